"""Many live streams share one reader of the log; a revoked key's streams close within one
heartbeat; one key cannot hold more than its cap of streams."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec

from adpipe.api.keys import create_key, revoke_key
from adpipe.context import Core
from live.test_live_events import auth, messages
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import running_api


class CountingPool:
    """The API's pool, counting the connections it hands out."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.taken = 0

    def connection(self, *args: Any, **kwargs: Any) -> Any:
        self.taken += 1
        return self._pool.connection(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


async def test_appends_reach_many_streams_without_a_query_per_stream(core: Core) -> None:
    key = await create_key(core.pool, "alice")
    jobs = [str(uuid.uuid4()) for _ in range(12)]
    for job in jobs:
        await append_each(core.store, job, lifecycle(job, "alice")[:1])
    counting = CountingPool(core.pool)
    api_core = dataclasses.replace(core, pool=counting)
    got: dict[str, list[str]] = {job: [] for job in jobs}
    opened = asyncio.Event()
    async with running_api(api_core) as base, aiohttp.ClientSession() as http:

        async def follow(job: str) -> None:
            async with http.get(f"{base}/api/v3/jobs/{job}/events", headers=auth(key)) as r:
                async for message in messages(r):
                    if message.event:
                        got[job].append(message.event)
                    if len(got[job]) == 1 and all(got.values()):
                        opened.set()

        readers = [asyncio.create_task(follow(job)) for job in jobs]
        async with asyncio.timeout(30):
            await opened.wait()
            before = counting.taken
            rest = lifecycle(jobs[0], "alice")[1:]
            for n, event in enumerate(rest):
                for job in jobs:  # every job moves on: 12 streams, each append wakes all
                    await append_each(core.store, job, [event], after_version=n + 1)
            await asyncio.gather(*readers)
    appends = len(jobs) * len(rest)
    assert all(
        events == ["job.created", *(type(e).type_name() for e in rest)] for events in got.values()
    )
    # The old per-stream reader took two connections per stream per wake-up: 12 * 2 * appends.
    assert counting.taken - before <= 3 * appends, (counting.taken - before, appends)


async def test_a_revoked_keys_streams_close_within_one_heartbeat(core: Core) -> None:
    core.settings = msgspec.structs.replace(core.settings, sse_heartbeat_seconds=1.0)
    key = await create_key(core.pool, "alice")
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:1])
    after_revoke: list[str | None] = []
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v3/jobs/{job}/events", headers=auth(key)) as response:
            stream = messages(response)
            assert (await anext(stream)).event == "job.created"
            assert await revoke_key(core.pool, key)
            async with asyncio.timeout(10):  # a bound for a stuck test, not a speed target
                after_revoke = [m.comment async for m in stream]
    assert after_revoke.count("heartbeat") <= 1, after_revoke


async def test_one_key_holds_at_most_its_cap_of_streams(core: Core) -> None:
    core.settings = msgspec.structs.replace(core.settings, sse_streams_per_key=2)
    alice, bob = await create_key(core.pool, "alice"), await create_key(core.pool, "bob")
    job, bobs = str(uuid.uuid4()), str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:1])
    await append_each(core.store, bobs, lifecycle(bobs, "bob")[:1])
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        url = f"{base}/api/v3/jobs/{job}/events"
        async with contextlib.AsyncExitStack() as held:
            for _ in range(2):
                response = await held.enter_async_context(http.get(url, headers=auth(alice)))
                stream: AsyncIterator[Any] = messages(response)
                assert (await anext(stream)).event == "job.created"
            async with http.get(url, headers=auth(alice)) as refused:
                assert refused.status == 429
                assert int(refused.headers["Retry-After"]) >= 1
                assert refused.content_type == "application/problem+json"
            bob_url = f"{base}/api/v3/jobs/{bobs}/events"
            async with http.get(bob_url, headers=auth(bob)) as other:
                assert other.status == 200  # another user is unaffected
        async with http.get(url, headers=auth(alice)) as again:  # closed ones free their slots
            assert again.status == 200
