"""The projection runtime: exactly-once effect across crashes, rebuilds equal to live folding."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from adpipe.context import Core
from adpipe.errors import DependencyUnavailable
from adpipe.events.catalogue import NewEvent
from adpipe.events.party import ClientCreated, ClientDeleted, ClientProfile, ClientUpdated
from adpipe.projections.campaigns import CampaignsProjection
from adpipe.projections.clients import ClientsProjection
from adpipe.projector import (
    PROJECTIONS_CHANNEL,
    ProjectionsWatch,
    Projector,
    projections_position,
    wait_for_projections,
)
from adpipe.storage.subscription import Waker
from adpipe.tasks import cancel_and_wait
from testkit.core import eventually, spawn


async def seed_clients(core: Core, clients: int, updates: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(clients)]
    for n, client_id in enumerate(ids):
        events: list[Any] = [
            ClientCreated(client_id=client_id, user_id="u1", profile=ClientProfile(name="new"))
        ]
        events += [ClientUpdated(profile=ClientProfile(name=f"v{i}")) for i in range(updates)]
        if n % 7 == 0:
            events.append(ClientDeleted())
        await core.store.append(f"client-{client_id}", [NewEvent(event=e) for e in events], 0)
    return ids


async def snapshot(core: Core) -> list[tuple[Any, ...]]:
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM clients ORDER BY id")
        return list(await cur.fetchall())


class CrashingClients(ClientsProjection):
    """Fails once in the middle of a batch, as a crash would: the batch must leave no trace."""

    def __init__(self, crash_at: int) -> None:
        self.crash_at = crash_at
        self.crashed = False

    async def apply(self, conn: Any, envelope: Any) -> None:
        if not self.crashed and envelope.position == self.crash_at:
            self.crashed = True
            raise RuntimeError("simulated crash mid-batch")
        await super().apply(conn, envelope)


async def test_a_batch_that_fails_midway_leaves_no_trace_and_is_applied_once_later(
    core: Core,
) -> None:
    await seed_clients(core, 40, 4)
    last = await core.store.last_position()
    crashing = CrashingClients(crash_at=last // 2)
    projector = Projector(core.store, core.pool, [crashing], batch_size=64, poll_seconds=0.05)
    task = asyncio.create_task(projector.run())
    await wait_for_projections(core.pool, ["clients"], last, within=30)
    await cancel_and_wait(task)
    assert crashing.crashed
    live = await snapshot(core)
    await Projector(core.store, core.pool, [ClientsProjection()]).rebuild(ClientsProjection())
    assert await snapshot(core) == live


@pytest.mark.slow
async def test_a_projector_killed_mid_batch_catches_up_to_what_a_rebuild_makes(
    core: Core, tmp_path: Path
) -> None:
    await seed_clients(core, 300, 9)
    last = await core.store.last_position()
    env = {"DATABASE_URL": core.settings.database_url}
    first = spawn(["-m", "adpipe.cli", "projector"], env, tmp_path / "first.log")
    try:

        async def started() -> bool:
            return await projections_position(core.pool, ["clients"]) > 0

        await eventually(started, within=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert await projections_position(core.pool, ["clients"]) < last, "killed too late to prove"
    second = spawn(["-m", "adpipe.cli", "projector"], env, tmp_path / "second.log")
    try:
        await wait_for_projections(core.pool, ["clients"], last, within=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
    live = await snapshot(core)
    assert len(live) == 300 - len(range(0, 300, 7))
    await Projector(core.store, core.pool, [ClientsProjection()]).rebuild(ClientsProjection())
    assert await snapshot(core) == live


async def test_one_watch_answers_many_waiters_each_by_a_read_made_after_it_began(
    core: Core,
) -> None:
    """`ProjectionsWatch`: concurrent waits on different positions and read models are answered
    as the projector reaches them, by one reader; a position never reached is a 503."""
    waker = Waker(core.settings.database_url, PROJECTIONS_CHANNEL)
    await waker.start()
    watch = ProjectionsWatch(core.pool, ["clients", "campaigns"], waker)
    projector = Projector(core.store, core.pool, [ClientsProjection(), CampaignsProjection()])
    try:
        await seed_clients(core, 5, 1)
        last = await core.store.last_position()
        waits = [
            asyncio.create_task(watch.wait(p, 30, names))
            for p in range(1, last + 1)
            for names in (["clients"], ["clients", "campaigns"], None)
        ]
        await asyncio.sleep(0.1)
        assert not any(w.done() for w in waits), "answered before the projections moved"
        runner = asyncio.create_task(projector.run())
        try:
            await asyncio.gather(*waits)
            with pytest.raises(DependencyUnavailable, match=r"within 0\.2 s"):
                await watch.wait(last + 1, 0.2)
            await watch.wait(last + 1, 5, [])  # no read model shows it: nothing to wait for
        finally:
            await cancel_and_wait(runner)
        # A rewound checkpoint (a rebuild) is seen by the next waiter, never answered from before.
        await projector.reset(ClientsProjection())
        with pytest.raises(DependencyUnavailable):
            await watch.wait(last, 0.3, ["clients"])
    finally:
        await waker.stop()
