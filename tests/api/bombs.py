"""Uploading decompression bombs while watching the API: its /healthz and its own memory."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from .conftest import Answer, Client

ASSETS = "/api/v3/assets"


def form(data: bytes, filename: str, content_type: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("file", data, filename=filename, content_type=content_type)
    return body


def _status_kb(field_name: str) -> int:
    match = re.search(rf"^{field_name}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert match is not None, f"no {field_name} in /proc/self/status"
    return int(match.group(1))


@dataclass
class Watch:
    """What the API did while an upload was in flight (the API runs in this test process)."""

    healthz: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)
    rss_before_kb: int = 0
    peak_kb: int = 0

    @property
    def peak_growth_mb(self) -> float:
        return (self.peak_kb - self.rss_before_kb) / 1024


async def upload_watched(
    user: Client, data: bytes, filename: str, content_type: str
) -> tuple[Answer, Watch]:
    """Uploads while polling /healthz; the process's peak RSS is reset first (Linux: writing 5 to
    clear_refs resets VmHWM), so `peak_kb` is the highest RSS reached during the upload."""
    watch = Watch()
    Path("/proc/self/clear_refs").write_text("5")
    watch.rss_before_kb = _status_kb("VmRSS")
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            started = time.monotonic()
            answer = await user.get("/healthz")
            watch.healthz.append((answer.status, time.monotonic() - started))
            await asyncio.sleep(0.05)

    poller = asyncio.create_task(poll())
    try:
        answer = await user.post(ASSETS, data=form(data, filename, content_type))
    finally:
        done.set()
        await poller
    watch.peak_kb = _status_kb("VmHWM")
    return answer, watch
