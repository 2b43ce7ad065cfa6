"""GET /api/v3/jobs/{id}/events (SSE) and /history over real HTTP: past then live events, resuming
with Last-Event-ID without gaps, heartbeats, closing at the end, and 404 for anyone else's job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import msgspec

from adpipe.api.keys import create_key
from adpipe.context import Core
from adpipe.events.catalogue import decode_envelope
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import running_api


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None


async def messages(response: aiohttp.ClientResponse) -> AsyncIterator[Message]:
    """Parses text/event-stream: one Message per blank-line-terminated block or comment."""
    current = Message()
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if current.id is not None or current.data:
                yield current
            current = Message()
        elif line.startswith(":"):
            yield Message(comment=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data += value
            elif name in ("id", "event"):
                setattr(current, name, value)


def auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def test_a_client_reconnecting_mid_job_misses_nothing(core: Core) -> None:
    key = await create_key(core.pool, "alice")
    job = str(uuid.uuid4())
    events = lifecycle(job, "alice", progress=(10, 20, 30, 40, 50, 60, 70, 80, 90))
    await append_each(core.store, job, events[:3])
    seen: list[Message] = []
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        url = f"{base}/api/v3/jobs/{job}/events"
        async with http.get(url, headers=auth(key)) as response:
            assert response.status == 200
            assert response.content_type == "text/event-stream"
            stream = messages(response)
            for _ in range(3):  # the past
                seen.append(await anext(stream))
            await append_each(core.store, job, events[3:6], after_version=3)
            for _ in range(3):  # live
                seen.append(await anext(stream))
        # Disconnected: the job goes on without us.
        await append_each(core.store, job, events[6:10], after_version=6)
        resumed = auth(key, **{"Last-Event-ID": seen[-1].id or ""})
        async with http.get(url, headers=resumed) as response:
            writer = asyncio.create_task(
                append_each(core.store, job, events[10:], after_version=10)
            )
            async with asyncio.timeout(20):
                seen += [m async for m in messages(response) if m.comment is None]
            await writer  # the stream closed by itself after job.render_completed
    everything = await core.store.read_stream(f"job-{job}")
    assert [m.id for m in seen] == [str(e.position) for e in everything]
    assert [m.event for m in seen] == [e.type for e in everything]
    assert seen[-1].event == "job.render_completed"
    assert decode_envelope(seen[4].data) == everything[4]  # data: the envelope itself


async def test_idle_streams_get_heartbeats_and_a_finished_job_closes_at_once(
    core: Core,
) -> None:
    core.settings = msgspec.structs.replace(core.settings, sse_heartbeat_seconds=0.3)
    key = await create_key(core.pool, "alice")
    job, done = str(uuid.uuid4()), str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:1])
    finished = await append_each(core.store, done, lifecycle(done, "alice"))
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v3/jobs/{job}/events", headers=auth(key)) as response:
            stream = messages(response)
            assert (await anext(stream)).event == "job.created"
            async with asyncio.timeout(5):
                assert (await anext(stream)).comment == "heartbeat"
                assert (await anext(stream)).comment == "heartbeat"
        resumed = auth(key, **{"Last-Event-ID": str(finished[-1].position)})
        url = f"{base}/api/v3/jobs/{done}/events"
        async with http.get(url, headers=resumed) as response, asyncio.timeout(5):
            assert [m async for m in messages(response)] == []
        async with http.get(f"{url}?after={finished[-3].position}", headers=auth(key)) as r:
            got = [m.event async for m in messages(r)]
        assert got == ["job.render_progress", "job.render_completed"]


async def test_history_pages_through_the_jobs_events(core: Core) -> None:
    key = await create_key(core.pool, "alice")
    job = str(uuid.uuid4())
    recorded = await append_each(core.store, job, lifecycle(job, "alice"), actor="user:alice")
    async with running_api(core) as base, aiohttp.ClientSession(headers=auth(key)) as http:
        url = f"{base}/api/v3/jobs/{job}/history"
        pages = []
        for page in (1, 2, 3):
            async with http.get(url, params={"page": page, "pageSize": 5}) as r:
                assert r.status == 200
                pages.append(await r.json())
    assert [p["total"] for p in pages] == [len(recorded)] * 3
    items = [item for p in pages for item in p["items"]]
    assert [i["id"] for i in items] == [e.id for e in recorded]
    assert (
        items[3]["data"]["feedback"] == "More energetic"
        and items[3]["metadata"]["actor"] == "user:alice"
    )


async def test_someone_elses_or_an_unknown_job_is_not_found(core: Core) -> None:
    alice, bob = await create_key(core.pool, "alice"), await create_key(core.pool, "bob")
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:2])
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        for path in (f"{job}/events", f"{job}/history", f"{uuid.uuid4()}/events", "x/history"):
            async with http.get(f"{base}/api/v3/jobs/{path}", headers=auth(bob)) as r:
                assert r.status == 404, path
                assert r.content_type == "application/problem+json"
        bad = auth(alice, **{"Last-Event-ID": "soon"})
        async with http.get(f"{base}/api/v3/jobs/{job}/events", headers=bad) as r:
            assert r.status == 422
