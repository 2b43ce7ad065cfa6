"""Fair downloads: one user's URLs that drip (on 127.0.0.1) hold at most that user's share of
the downloader; another user's job with a fast asset still reaches its storyboard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from adpipe.settings import Settings
from testkit.core import eventually
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.loopback import serve_app
from testkit.stack import loopback_settings, running_stack

if TYPE_CHECKING:
    from testkit.samples import Samples


def fair_settings(database_url: str, nats_url: str, retry_seconds: float) -> Settings:
    return loopback_settings(
        database_url,
        nats_url,
        service_concurrency=2,  # so one user's share is a single slot
        fair_share_retry_seconds=retry_seconds,
        download_retries=0,
        ack_wait_seconds=10.0,
        service_drain_seconds=0.5,
    )


@pytest.fixture
def settings(database_url: str, nats_url: str) -> Settings:
    return fair_settings(database_url, nats_url, retry_seconds=0.3)


@dataclass
class Remote:
    base: str = ""
    dripping: list[str] = field(default_factory=list)


@pytest.fixture
async def remote(samples: Samples) -> AsyncIterator[Remote]:
    """/fast.png answers at once; /drip-N.png sends a byte every 0.5 s and never finishes
    (the test's small but slow version of a URL dripping a byte every 20 s)."""
    server = Remote()
    done = asyncio.Event()

    async def fast(request: web.Request) -> web.Response:
        return web.Response(body=samples.png.read_bytes(), content_type="image/png")

    async def drip(request: web.Request) -> web.StreamResponse:
        server.dripping.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        while not done.is_set():
            await response.write(b"\x89")
            await asyncio.sleep(0.5)
        return response

    app = web.Application()
    app.router.add_get("/fast.png", fast)
    app.router.add_get("/{name}", drip)
    async with serve_app(app, shutdown_timeout=0.5) as server.base:
        try:
            yield server
        finally:
            done.set()  # the dripping responses end before the server shuts down


async def test_one_users_dripping_downloads_do_not_starve_another_users_job(
    settings: Settings, remote: Remote
) -> None:
    async with running_stack(settings, ["downloader", "planner"]) as stack:
        slow = [
            await create_job(stack, [url_asset(f"{remote.base}/drip-{n}.png")], user_id="alice")
            for n in range(3)
        ]
        await eventually(lambda: _true(len(remote.dripping) >= 1), within=30)
        fast = await create_job(stack, [url_asset(f"{remote.base}/fast.png")], user_id="bob")
        # Bounded wait, not a speed check: before per-user shares alice's drips held both of
        # the downloader's slots for as long as they dripped (up to 600 s each).
        state = await wait_for_status(stack, fast, "storyboard_review", "failed", within=45)
        assert state.status == "storyboard_review", state.error
        # Alice never held more than her share: one drip at a time, the rest deferred —
        # and deferred, not failed: her jobs are still waiting for their assets.
        assert len(remote.dripping) == 1, remote.dripping

        async def deferred_past_max_deliver() -> bool:
            async with stack.core.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM service_attempts WHERE service = 'downloader'"
                    " AND deferred GROUP BY event_id ORDER BY 1 DESC LIMIT 1"
                )
                row = await cur.fetchone()
            return row is not None and row[0] > settings.max_deliver

        # Handed back more often than max_deliver allows attempts: deferrals spend none.
        await eventually(deferred_past_max_deliver, within=45)
        assert len(remote.dripping) == 1, remote.dripping
        for job_id in slow:
            assert (await wait_for_status(stack, job_id, "pending", within=1)).status == "pending"


async def _true(value: bool) -> bool:
    return value


async def test_work_deferred_for_a_share_starts_when_the_share_frees_not_after_the_retry(
    database_url: str, nats_url: str, samples: Samples
) -> None:
    """Alice's second job waits for her share while her first one's asset is held open; the
    moment that download ends, the second is fetched — with an hour's retry delay, a job that
    waited for its redelivery could not reach its storyboard within this test at all."""
    settings = fair_settings(database_url, nats_url, retry_seconds=3600.0)
    seen: list[str] = []
    release = asyncio.Event()

    async def asset(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path == "/held.png":
            await release.wait()
            seen.append("released")
        return web.Response(body=samples.png.read_bytes(), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", asset)
    async with serve_app(app, shutdown_timeout=0.5) as base:
        async with running_stack(settings, ["downloader", "planner"]) as stack:
            first = await create_job(stack, [url_asset(f"{base}/held.png")], user_id="alice")
            await eventually(lambda: _true(seen == ["/held.png"]), within=30)
            second = await create_job(stack, [url_asset(f"{base}/next.png")], user_id="alice")

            async def deferred() -> bool:
                async with stack.core.pool.connection() as conn:
                    cur = await conn.execute(
                        "SELECT count(*) FROM service_attempts"
                        " WHERE service = 'downloader' AND deferred"
                    )
                    row = await cur.fetchone()
                return row is not None and row[0] >= 1

            await eventually(deferred, within=30)  # the second was delivered and waits
            assert seen == ["/held.png"]
            release.set()
            for job_id in (first, second):
                state = await wait_for_status(stack, job_id, "storyboard_review", "failed")
                assert state.status == "storyboard_review", state.error
    # In order: the second's asset was asked for only once the first's download had ended.
    assert seen == ["/held.png", "released", "/next.png"]
