"""Fixtures for pipeline tests: settings pointing at the test Postgres and NATS, a media server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from adpipe.settings import Settings
from testkit.loopback import serve_app
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


@dataclass
class MediaServer:
    base: str
    hits: dict[str, int] = field(default_factory=dict)


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[MediaServer]:
    """Serves /product.jpg (red), /cta.jpg (blue), /clip.mp4 (green) and failures on 127.0.0.1."""
    files = {
        "/product.jpg": (jpeg_bytes((200, 30, 30)), "image/jpeg"),
        "/cta.jpg": (jpeg_bytes((30, 30, 200)), "image/jpeg"),
        "/clip.mp4": (write_mp4(tmp_path / "clip.mp4", (30, 200, 30)).read_bytes(), "video/mp4"),
        "/page.jpg": (b"<!doctype html><html><body>not an image</body></html>", "image/jpeg"),
    }
    server = MediaServer(base="")

    async def serve(request: web.Request) -> web.Response:
        server.hits[request.path] = server.hits.get(request.path, 0) + 1
        if request.path not in files:
            return web.Response(status=404, text="not found")
        body, content_type = files[request.path]
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    async with serve_app(app) as server.base:
        yield server
