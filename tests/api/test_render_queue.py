"""Renders beyond the renderer's concurrency wait in approval order, and each job says where it
stands: `queuePosition` and `etaSeconds` on the job, job.render_queued with an estimate that counts
the wait. Real Postgres, NATS, relay, projector and services; the renderer runs one at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from adpipe.api.keys import create_key
from adpipe.events.job import RenderQueued, RenderStarted
from adpipe.jobs import job_stream
from adpipe.settings import load_settings
from testkit.media import jpeg_bytes
from testkit.stack import running_stack

from .conftest import Client, job_body, serving
from .test_actions import act, until_status

JOBS = "/api/v3/jobs"


@pytest.fixture
async def cdn() -> AsyncIterator[str]:
    async def product(request: web.Request) -> web.Response:
        return web.Response(body=jpeg_bytes((200, 30, 30)), content_type="image/jpeg")

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
async def test_renders_beyond_the_concurrency_wait_in_order_with_their_position_and_eta(
    database_url: str, nats_url: str, cdn: str, session: aiohttp.ClientSession
) -> None:
    settings = load_settings(
        {},
        database_url=database_url,
        nats_url=nats_url,
        allow_private_urls=True,
        storyboard_wait_seconds=60.0,
        render_concurrency=1,
    )
    async with (
        running_stack(settings, ("downloader", "planner", "voice", "renderer")) as stack,
        serving(stack.core) as url,
    ):
        user = Client(session, url, await create_key(stack.core.pool, "alice"))
        client = (await user.post("/api/v3/clients", json={"name": "ACME"})).json()["id"]
        asset = {"url": f"{cdn}/product.jpg", "type": "image", "name": "Product"}

        async def new_job(seconds: int, resolution: str, voiceover: bool = True) -> str:
            body = job_body(
                client,
                durationSeconds=seconds,
                resolution=resolution,
                assets=[asset],
                voiceover={"enabled": voiceover},
            )
            created = await user.post(JOBS, json=body)
            assert created.status == 201, created.body
            return str(created.json()["id"])

        # The first render is long enough to hold the only slot while the others queue.
        first = await new_job(60, "1080p", voiceover=False)
        second, third = await new_job(6, "720p"), await new_job(6, "720p")
        answer = (await act(user, first, action="approve_storyboard")).json()
        assert answer["queuePosition"] in (1, None)  # next in line, or started already
        rendering = await until_status(user, first, "rendering", seconds=60)
        assert rendering["queuePosition"] is None and rendering["etaSeconds"] > 0

        # Each approval answers with the job's place: behind the running render, in order.
        two = (await act(user, second, action="approve_storyboard")).json()
        three = (await act(user, third, action="approve_storyboard")).json()
        assert (two["status"], two["queuePosition"]) == ("in_progress", 1)
        assert (three["status"], three["queuePosition"]) == ("in_progress", 2)
        # The estimate counts the wait: the third waits for the first and the second.
        assert three["etaSeconds"] > two["etaSeconds"] > rendering["etaSeconds"] / 2
        listed = (await user.get(f"{JOBS}?status=in_progress")).json()["items"]
        assert {j["id"]: j["queuePosition"] for j in listed} == {second: 1, third: 2}

        # So does the event the job's watchers see when it joins the queue.
        async def queued_eta(job_id: str) -> float:
            events = await stack.core.store.read_stream(job_stream(job_id))
            (queued,) = [e.data for e in events if isinstance(e.data, RenderQueued)]
            assert queued.eta_seconds is not None
            return queued.eta_seconds

        own = 6 * settings.render_seconds_per_video_second  # no render measured yet
        assert await queued_eta(second) > own
        assert await queued_eta(third) > await queued_eta(second)

        # The first leaves the slot (cancelled here, to keep the test short): positions move up.
        assert (await act(user, first, action="cancel")).status == 200
        await until_status(user, second, "rendering", seconds=60)
        moved = (await user.get(f"{JOBS}/{third}")).json()
        assert moved["status"] == "in_progress" and moved["queuePosition"] == 1
        done = await until_status(user, third, "completed", seconds=120)
        assert done["queuePosition"] is None and done["etaSeconds"] is None

        # Renders started in approval order, one at a time.
        starts = []
        for job_id in (first, second, third):
            events = await stack.core.store.read_stream(job_stream(job_id))
            starts.append(next(e.position for e in events if isinstance(e.data, RenderStarted)))
        assert starts == sorted(starts)
