"""Fair sending: one user's endpoint that hangs, with many deliveries due, cannot hold every
sender slot; another user's deliveries still go out while it hangs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from adpipe.context import Core
from adpipe.webhooks.manage import SubscribeRequest, Webhooks
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import StartService, eventually, first_arrivals, subscribe
from webhooks.receiver import Receiver


@pytest.fixture
async def hanging() -> AsyncIterator[tuple[str, list[str]]]:
    """An endpoint on 127.0.0.1 that takes every request and never answers (until teardown)."""
    release = asyncio.Event()
    seen: list[str] = []

    async def hang(request: web.Request) -> web.Response:
        seen.append(request.headers["webhook-id"])
        await release.wait()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hang", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hang", seen
    finally:
        release.set()
        await runner.cleanup()


async def test_a_hanging_endpoint_does_not_stop_another_users_deliveries(
    core: Core,
    webhooks: Webhooks,
    receiver: Receiver,
    start_service: StartService,
    hanging: tuple[str, list[str]],
) -> None:
    url, seen = hanging
    await webhooks.subscribe("alice", SubscribeRequest(url=url, events=["job.*"]))
    await subscribe(webhooks, receiver, "bob", ["job.*"])
    # Four slots; each of alice's deliveries would hold one for the whole (long) timeout.
    await start_service(concurrency=4, concurrency_per_user=2, timeout_seconds=60.0)
    alice_jobs = [str(uuid.uuid4()) for _ in range(8)]  # eight queue heads due at once
    for job_id in alice_jobs:
        await append_each(core.store, job_id, lifecycle(job_id, "alice")[:1])
    await eventually(lambda: len(seen) >= 2)  # alice's endpoint holds its share now
    bob_job = str(uuid.uuid4())
    bob = await append_each(core.store, bob_job, lifecycle(bob_job, "bob")[:3])

    # Well inside alice's 60 s timeout: bob's deliveries did not wait for a hung slot to free.
    await eventually(lambda: {e.id for e in bob} <= set(first_arrivals(receiver)), within=20)
    assert first_arrivals(receiver) == [e.id for e in bob]  # in order
    assert len(set(seen)) == 2  # alice never had more than her share in flight
