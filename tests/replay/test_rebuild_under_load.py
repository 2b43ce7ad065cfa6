"""`adpipe replay rebuild` over 100k events while the API keeps answering from the read models
being rebuilt and the live projector keeps folding new events (slow: about a minute or two)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import aiohttp
import pytest

from adpipe.api.keys import create_key
from adpipe.context import Core
from adpipe.projections.jobs import JobsProjection
from adpipe.projector import Projector
from replay.kit import Replay, bulk_append
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import eventually, running_api

JOBS = 10_000  # ten events each: 100k events


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_rebuilding_100k_events_while_the_api_serves(core: Core, replay: Replay) -> None:
    streams = []
    for _ in range(JOBS):
        job = str(uuid.uuid4())
        streams.append((f"job-{job}", lifecycle(job, "alice")))
    async with core.pool.connection() as conn:
        written = await bulk_append(conn, streams)
    assert written == JOBS * 10
    code, _, err = await replay("rebuild", "jobs")  # the initial read model
    assert code == 0, err
    async with core.pool.connection() as conn:
        await conn.execute("CREATE TABLE jobs_before AS SELECT * FROM jobs")

    key = await create_key(core.pool, "alice")
    sample = streams[1234][0].removeprefix("job-")
    answers: list[tuple[int, int, float]] = []  # (status, total jobs listed, seconds)
    rebuilding = asyncio.Event()
    projector = Projector(core.store, core.pool, [JobsProjection()], waker=core.waker)
    projecting = asyncio.create_task(projector.run())

    async with running_api(core) as base, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {key}"}

        async def client() -> None:
            while not rebuilding.is_set():
                started = time.monotonic()
                async with http.get(f"{base}/api/v3/jobs?pageSize=5", headers=headers) as r:
                    total = (await r.json()).get("total", -1) if r.status == 200 else -1
                async with http.get(f"{base}/api/v3/jobs/{sample}", headers=headers) as r:
                    ok = r.status == 200 and (await r.json())["status"] == "completed"
                answers.append((r.status if ok else 500, total, time.monotonic() - started))
                await asyncio.sleep(0.1)

        async def meanwhile() -> list[str]:
            """New jobs run while the rebuild is under way."""
            new = []
            for _ in range(5):
                job = str(uuid.uuid4())
                await append_each(core.store, job, lifecycle(job, "alice"))
                new.append(job)
                await asyncio.sleep(1.0)
            return new

        load = asyncio.create_task(client())
        writer = asyncio.create_task(meanwhile())
        started = time.monotonic()
        # The real command, in its own process, as an operator would run it.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adpipe.cli",
            "replay",
            "rebuild",
            "jobs",
            env={**os.environ, "DATABASE_URL": core.settings.database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        took = time.monotonic() - started
        new_jobs = await writer
        rebuilding.set()
        await load
        assert process.returncode == 0, err.decode()
        assert b"rebuilt jobs up to position" in out
        assert b"rebuild jobs: 100%" in err  # the progress bar (a line per 10 % off a tty)

        async def projected() -> bool:
            async with http.get(f"{base}/api/v3/jobs?pageSize=1", headers=headers) as r:
                return (await r.json())["total"] == JOBS + len(new_jobs)

        await eventually(projected, within=30)
        for job in new_jobs:
            async with http.get(f"{base}/api/v3/jobs/{job}", headers=headers) as r:
                assert (await r.json())["status"] == "completed"
    projecting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await projecting

    print(
        f"rebuild of {written:,} events took {took:.1f} s; {len(answers)} API answers,"
        f" slowest {max(a[2] for a in answers):.2f} s"
    )
    assert len(answers) >= 20
    assert all(status == 200 for status, _, _ in answers), answers
    # Every answer saw the whole read model: never an empty or half-built table.
    assert all(total >= JOBS for _, total, _ in answers)
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM (SELECT * FROM jobs_before EXCEPT SELECT * FROM jobs) AS gone"
        )
        assert await cur.fetchone() == (0,)
