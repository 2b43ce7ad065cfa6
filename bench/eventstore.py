"""Event store benchmark: appends/s, read-all events/s, and end-to-end latencies.

Starts its own Postgres and nats-server in a temp folder (durable settings, as in production),
then prints each figure and, in the same run, the same inserts done as raw psycopg INSERTs with no
event-store logic (no lock, no version check, no hash chain) as the baseline: ratio = ours / raw.

    .venv/bin/python bench/eventstore.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import nats
from psycopg_pool import AsyncConnectionPool

from adpipe.bus import connect, ensure_stream
from adpipe.context import open_core
from adpipe.events.catalogue import NewEvent
from adpipe.events.party import ClientProfile, ClientUpdated
from adpipe.projections.clients import ClientsProjection
from adpipe.projector import PROJECTIONS_CHANNEL, Projector, wait_for_projections
from adpipe.relay import Relay
from adpipe.runtime.nats import EmbeddedNats
from adpipe.runtime.postgres import EmbeddedPostgres
from adpipe.settings import load_settings
from adpipe.storage.eventstore import EventStore, canonical_json
from adpipe.storage.migrations import apply_migrations
from adpipe.storage.subscription import Waker
from adpipe.tasks import cancel_and_wait

RAW_TABLE = """
CREATE TABLE IF NOT EXISTS raw_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL, stream text NOT NULL, version integer NOT NULL, type text NOT NULL,
    data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())
"""


def event() -> ClientUpdated:
    return ClientUpdated(profile=ClientProfile(name="bench", description="x" * 64))


async def timed_writers(
    writers: int, per_writer: int, work: Callable[[int, int], Awaitable[None]]
) -> float:
    """Runs `writers` concurrent loops of `per_writer` calls; answers calls per second."""

    async def loop(w: int) -> None:
        for i in range(per_writer):
            await work(w, i)

    start = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(writers)))
    return writers * per_writer / (time.perf_counter() - start)


async def bench_appends(store: EventStore, writers: int, batch: int, calls: int) -> float:
    versions = [0] * writers
    tag = uuid.uuid4().hex[:6]

    async def work(w: int, _: int) -> None:
        events = [NewEvent(event=event()) for _ in range(batch)]
        await store.append(f"client-{tag}-{w}", events, versions[w])
        versions[w] += batch

    return batch * await timed_writers(writers, calls // writers, work)


async def bench_raw(pool: AsyncConnectionPool[Any], writers: int, batch: int, calls: int) -> float:
    data = canonical_json(
        {"type": "client.updated", "profile": {"name": "bench", "description": "x" * 64}}
    )
    versions = [0] * writers
    tag = uuid.uuid4().hex[:6]

    async def work(w: int, _: int) -> None:
        rows = []
        for _ in range(batch):
            versions[w] += 1
            rows.append(
                (str(uuid.uuid4()), f"raw-{tag}-{w}", versions[w], "client.updated", data, "{}")
            )
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO raw_events (id, stream, version, type, data, metadata)"
                " VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb)",
                rows,
            )

    return batch * await timed_writers(writers, calls // writers, work)


def latency_row(label: str, latencies: list[float]) -> None:
    print(f"{label:<34}{pct(latencies, 0.5):>12.1f}{pct(latencies, 0.99):>12.1f}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(quick: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="adpipe-bench-"))
    postgres, nats_server = EmbeddedPostgres(folder / "pg"), EmbeddedNats(folder / "nats")
    postgres.start()
    nats_url = nats_server.start()
    try:
        await apply_migrations(postgres.url())
        settings = load_settings(
            {}, database_url=postgres.url(), nats_url=nats_url, pool_max_size=12
        )
        scale = 1 if quick else 4
        async with open_core(settings) as core:
            async with core.pool.connection() as conn:
                await conn.execute(RAW_TABLE)
            print(
                f"adpipe event store benchmark ({os.cpu_count()} cores); ratio = ours / raw INSERT"
            )
            print(f"{'workload':<34}{'ours/s':>12}{'raw/s':>12}{'ratio':>8}")
            for writers, batch, calls in ((1, 1, 500), (8, 1, 800), (1, 50, 40), (8, 50, 80)):
                ours = await bench_appends(core.store, writers, batch, calls * scale)
                raw = await bench_raw(core.pool, writers, batch, calls * scale)
                label = f"append {writers} writer{'s' * (writers > 1)}, batch {batch}"
                print(f"{label:<34}{ours:>12,.0f}{raw:>12,.0f}{ours / raw:>8.2f}")

            total = await core.store.last_position()
            start = time.perf_counter()
            position, read = 0, 0
            while batch_ := await core.store.read_all(position, 1000):
                position, read = batch_[-1].position, read + len(batch_)
            rate = read / (time.perf_counter() - start)
            print(f"{'read_all (decoded envelopes)':<34}{rate:>12,.0f}")
            assert read == total

            # Append -> visible in a projection (the API's read-your-writes wait).
            projector = Projector(core.store, core.pool, [ClientsProjection()], waker=core.waker)
            await projector.catch_up(ClientsProjection())
            runner = asyncio.create_task(projector.run())
            visible = Waker(settings.database_url, PROJECTIONS_CHANNEL)
            await visible.start()
            latencies = []
            for i in range(100 * scale):
                start = time.perf_counter()
                [env] = await core.store.append(f"client-lat-{i}", [event()], 0)
                await wait_for_projections(
                    core.pool, ["clients"], env.position, waker=visible, within=10
                )
                latencies.append((time.perf_counter() - start) * 1000)
            await cancel_and_wait(runner)
            await visible.stop()
            latency_row("append -> projection p50/p99 ms", latencies)

            # Append -> a JetStream consumer (through the relay).
            nc = await connect(nats_url)
            js = nc.jetstream()
            await ensure_stream(js)
            relay = Relay(core.store, js, settings.database_url, waker=core.waker, poll_seconds=0.2)
            relay_task = asyncio.create_task(relay.run())
            await relay.is_leader.wait()
            listener = await nats.connect(nats_url)
            ljs = listener.jetstream()
            seen: dict[str, float] = {}
            arrived = asyncio.Event()

            async def on_msg(msg: Any) -> None:
                seen[msg.headers["Nats-Msg-Id"]] = time.perf_counter()
                arrived.set()
                await msg.ack()

            await ljs.subscribe(
                "adpipe.client.updated", cb=on_msg, deliver_policy=nats.js.api.DeliverPolicy.NEW
            )
            # Let the relay drain the backlog of the earlier workloads first.
            while (await core.store.last_position()) > (await _relay_position(core)):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            latencies = []
            for i in range(100 * scale):
                arrived.clear()
                start = time.perf_counter()
                [env] = await core.store.append(f"client-nats-{i}", [event()], 0)
                while env.id not in seen:
                    await asyncio.wait_for(arrived.wait(), 10)
                    arrived.clear()
                latencies.append((seen[env.id] - start) * 1000)
            latency_row("append -> NATS consumer p50/p99 ms", latencies)
            await cancel_and_wait(relay_task)
            await listener.close()
            await nc.close()
    finally:
        nats_server.stop()
        postgres.stop()


async def _relay_position(core: Any) -> int:
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(max(position), 0) FROM checkpoints WHERE name = 'relay'"
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 4x fewer calls)")
    asyncio.run(main(parser.parse_args().quick))
