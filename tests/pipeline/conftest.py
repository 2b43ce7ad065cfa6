"""Fixtures for pipeline tests: settings pointing at the test Postgres and NATS, a media server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adpipe.settings import Settings
from testkit.cdn import Cdn, serving_files
from testkit.media import jpeg_bytes, write_mp4
from testkit.stack import loopback_settings


@pytest.fixture
def settings(database_url: str, nats_url: str) -> Settings:
    return loopback_settings(
        database_url,
        nats_url,
        max_deliver=3,
        download_retries=1,
        ack_wait_seconds=10.0,
    )


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[Cdn]:
    """Serves /product.jpg (red), /cta.jpg (blue), /clip.mp4 (green) and failures on 127.0.0.1."""
    files = {
        "/product.jpg": (jpeg_bytes((200, 30, 30)), "image/jpeg"),
        "/cta.jpg": (jpeg_bytes((30, 30, 200)), "image/jpeg"),
        "/clip.mp4": (write_mp4(tmp_path / "clip.mp4", (30, 200, 30)).read_bytes(), "video/mp4"),
        "/page.jpg": (b"<!doctype html><html><body>not an image</body></html>", "image/jpeg"),
    }
    async with serving_files(files) as server:
        yield server
