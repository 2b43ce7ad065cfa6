"""The price table's arithmetic, and HTTP Range parsing."""

from __future__ import annotations

import pytest

from adpipe.api.blobs import parse_range
from adpipe.api.errors import RangeNotSatisfiable
from adpipe.pricing import (
    estimate_job,
    planning_cost,
    render_cost,
    scene_count_range,
    storage_cost,
)
from adpipe.settings import Prices

PRICES = Prices()


def test_rendering_is_priced_per_output_second_by_resolution() -> None:
    assert render_cost("1080p", 30, PRICES) == pytest.approx(1.2)
    assert render_cost("720p", 30, PRICES) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="4k"):
        render_cost("4k", 30, PRICES)


def test_storage_is_priced_per_gigabyte() -> None:
    assert storage_cost(1_000_000_000, PRICES) == pytest.approx(0.10)
    assert storage_cost(0, PRICES) == 0


def test_planning_uses_litellms_price_map_for_known_models() -> None:
    assert planning_cost(None, 1000, 1000, PRICES) == PRICES.builtin_planning
    unknown = planning_cost("local/my-finetune", 1000, 1000, PRICES)
    assert unknown == PRICES.llm_planning_estimate
    known = planning_cost("gpt-4o-mini", 1_000_000, 0, PRICES)
    assert 0 < known < 10  # litellm's price of a million prompt tokens


def test_an_estimate_adds_up_its_breakdown() -> None:
    estimate = estimate_job(
        duration_seconds=30,
        resolution="1080p",
        url_asset_types=["image", "video"],
        model=None,
        prices=PRICES,
    )
    b = estimate.breakdown
    assert estimate.total == pytest.approx(b.planning + b.rendering + b.storage)
    assert b.rendering == pytest.approx(1.2) and b.storage > 0
    assert scene_count_range(6) == (3, 3) and scene_count_range(30) == (3, 7)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=90-", (90, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=50-500", (50, 100)),
        ("bytes=9-3", None),  # invalid: ignored, the whole body is sent
        ("bytes=0-1,5-6", None),  # several ranges: not served, the whole body is sent
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_ranges_parse_to_half_open_spans(header: str | None, expected: object) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges_raise(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)
