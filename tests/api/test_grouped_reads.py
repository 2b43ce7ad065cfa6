"""Concurrent GET /jobs/{id} share queries, and each user still gets only their own jobs."""

from __future__ import annotations

import asyncio

import pytest

from adpipe.api.grouped_reads import Lookups
from adpipe.context import Core

from .conftest import Client, job_body, new_client


async def test_concurrent_reads_share_queries_and_stay_each_users_own(
    alice: Client, bob: Client, core: Core
) -> None:
    alices = [
        (await alice.post("/api/v3/jobs", json=job_body(await new_client(alice)))).json()["id"]
        for _ in range(3)
    ]
    bobs = (await bob.post("/api/v3/jobs", json=job_body(await new_client(bob)))).json()["id"]
    documents = Lookups(core.pool, "EUR").jobs
    asks = [("alice", j) for j in alices] * 10 + [("bob", bobs), ("alice", bobs), ("bob", "x")]
    answers = await asyncio.gather(*(documents.get(user, job) for user, job in asks))
    assert documents.queries < len(asks)  # one query answered several requests
    for (user, job), row in zip(asks, answers, strict=True):
        if (user, job) in (("alice", bobs), ("bob", "x")):
            assert row is None  # another user's job, or none at all, is not found
            continue
        assert row is not None and f'"id": "{job}"' in row["document"]
        assert '"currency": "EUR"' in row["document"]
    # Over HTTP, at once: each answer is its own job's.
    got = await asyncio.gather(*(alice.get(f"/api/v3/jobs/{j}") for j in alices * 4))
    assert [a.json()["id"] for a in got] == alices * 4
    assert (await alice.get(f"/api/v3/jobs/{bobs}")).status == 404
    # The other single-resource reads are grouped the same way.
    clients = [await new_client(alice, f"C{n}") for n in range(3)]
    got = await asyncio.gather(*(alice.get(f"/api/v3/clients/{c}") for c in clients * 4))
    assert [(a.status, a.json()["id"]) for a in got] == [(200, c) for c in clients * 4]
    scenes = await asyncio.gather(*(alice.get(f"/api/v3/jobs/{j}/scenes") for j in alices * 2))
    assert all(a.status == 200 and a.json() for a in scenes)
    assert (await bob.get(f"/api/v3/clients/{clients[0]}")).status == 404


async def test_a_failed_query_fails_its_group_and_the_next_one_is_read(core: Core) -> None:
    documents = Lookups(core.pool, "USD").jobs
    async with core.pool.connection() as conn:
        await conn.execute("ALTER TABLE jobs RENAME TO jobs_away")
    try:
        results = await asyncio.gather(
            *(documents.get("alice", f"job-{n}") for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results), results
    finally:
        async with core.pool.connection() as conn:
            await conn.execute("ALTER TABLE jobs_away RENAME TO jobs")
    assert await documents.get("alice", "job-0") is None  # the reader goes on


async def test_closing_cancels_the_reads_still_waiting(core: Core) -> None:
    documents = Lookups(core.pool, "USD").jobs
    reads = [asyncio.create_task(documents.get("alice", f"job-{n}")) for n in range(3)]
    await asyncio.sleep(0)  # queued, their reader started
    await documents.close()
    for read in reads:
        with pytest.raises(asyncio.CancelledError):
            await read
