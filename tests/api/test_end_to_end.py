"""The API over the real services: URL assets downloaded, the storyboard planned, the MP4 made.

Postgres, NATS, the relay, the projector and the downloader, planner, voice and renderer services
all run in-process; the "internet" is an aiohttp server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from adpipe.api.keys import create_key
from adpipe.settings import load_settings
from testkit.media import jpeg_bytes
from testkit.stack import running_stack

from .conftest import Client, job_body, serving
from .test_actions import act, until_status

PRODUCT = jpeg_bytes((200, 30, 30))


@pytest.fixture
async def cdn() -> AsyncIterator[str]:
    async def product(request: web.Request) -> web.Response:
        return web.Response(body=PRODUCT, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/product.jpg", product)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.slow
async def test_a_job_goes_from_urls_to_a_video_through_the_real_services(
    database_url: str, nats_url: str, cdn: str, session: aiohttp.ClientSession
) -> None:
    settings = load_settings(
        {},
        database_url=database_url,
        nats_url=nats_url,
        allow_private_urls=True,  # the CDN is on 127.0.0.1
        storyboard_wait_seconds=60.0,
    )
    services = ("downloader", "planner", "voice", "renderer")
    async with running_stack(settings, services) as stack, serving(stack.core) as url:
        user = Client(session, url, await create_key(stack.core.pool, "alice"))
        client = await user.post("/api/v3/clients", json={"name": "ACME"})
        asset = {"url": f"{cdn}/product.jpg", "type": "image", "name": "Product Hero"}
        body = job_body(client.json()["id"], durationSeconds=6, resolution="720p", assets=[asset])
        created = await user.post("/api/v3/jobs", json=body)
        assert created.status == 201, created.body
        job = created.json()
        assert job["status"] == "storyboard_review", job
        (stored,) = job["assets"]
        assert stored["status"] == "ready" and stored["format"] == "jpeg"
        assert 3 <= len(job["scenes"]) <= 7
        assert {a for s in job["scenes"] for a in s["assets"]} <= {stored["id"]}
        assert (await user.get(stored["url"])).body == PRODUCT

        approved = await act(user, job["id"], action="approve_storyboard")
        assert approved.status == 200
        done = await until_status(user, job["id"], "completed", seconds=120)
        video = await user.get(done["videoUrl"])
        assert video.status == 200 and video.headers["Content-Type"] == "video/mp4"
        assert video.body[4:8] == b"ftyp"
        assert done["cost"]["breakdown"]["rendering"] > 0
