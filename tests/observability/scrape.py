"""Reading Prometheus text: samples by name and labels, and what moved between two scrapes."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Key, float]:
    samples: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return samples


async def scrape(http: aiohttp.ClientSession, url: str) -> dict[Key, float]:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/plain"
        return parse(await response.text())


def value(samples: Mapping[Key, float], name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def series(samples: Mapping[Key, float], name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == name]


def moved(
    before: Mapping[Key, float], after: Mapping[Key, float], name: str, **labels: str
) -> float:
    return value(after, name, **labels) - value(before, name, **labels)
