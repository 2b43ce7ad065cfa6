"""Fixtures for observability tests: the real API (with its access log, as `adpipe api` serves it)
in front of the real relay, projector, downloader, planner and renderer, all in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adpipe.settings import Settings
from testkit.loopback import serve_app
from testkit.media import jpeg_bytes
from testkit.stack import loopback_settings


@pytest.fixture
def settings(database_url: str, nats_url: str) -> Settings:
    return loopback_settings(
        database_url,
        nats_url,
        max_deliver=3,
        download_retries=1,
        ack_wait_seconds=10.0,
        pool_max_size=12,
        upload_max_bytes=4096,
        storyboard_wait_seconds=60.0,
    )


@dataclass
class Media:
    base: str


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[Media]:
    """Serves /product.jpg on 127.0.0.1: the remote asset of every job here."""
    body = jpeg_bytes((200, 30, 30))

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/product.jpg", serve)
    async with serve_app(app) as base:
        yield Media(base=base)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        yield session
