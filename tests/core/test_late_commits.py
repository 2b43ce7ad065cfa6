"""No reader skips an append that commits late: one append's transaction is held open at a
barrier (its positions taken) while other appends try to commit, and a reader following the log
meanwhile still sees every event once. Without the table lock the same scenario loses it."""

from __future__ import annotations

import asyncio

import pytest

from adpipe.context import Core
from adpipe.events.catalogue import NewEvent
from adpipe.events.party import ClientProfile, ClientUpdated
from adpipe.storage import groupcommit
from adpipe.storage.eventstore import EventStore


def updated(name: str) -> ClientUpdated:
    return ClientUpdated(profile=ClientProfile(name=name))


async def blocked_on_the_events_lock(core: Core) -> bool:
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted"
        )
        row = await cur.fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("locked", [True, False], ids=["with-lock", "without-lock"])
async def test_a_reader_never_skips_an_append_held_open_while_others_commit(
    core: Core, monkeypatch: pytest.MonkeyPatch, locked: bool
) -> None:
    if not locked:  # the control: proves this test fails when the ordering rule is gone
        monkeypatch.setattr(groupcommit, "LOCK_EVENTS", "SELECT 1")
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        holding.set()
        await release.wait()

    late_store = EventStore(core.pool, before_commit=hold)
    other_store = EventStore(core.pool)  # another process, as far as the lock is concerned
    await other_store.append("client-early", [updated("early")], 0)
    late = [NewEvent(event=updated(f"late {i}")) for i in range(3)]
    late_append = asyncio.create_task(late_store.append("client-late", late, 0))
    async with asyncio.timeout(10):
        await holding.wait()  # its positions are taken; it has not committed

    others = [
        asyncio.create_task(other_store.append(f"client-other-{i}", [updated(f"o{i}")], 0))
        for i in range(5)
    ]
    # Until the others have committed or wait on the lock: Postgres tells only when asked.
    async with asyncio.timeout(10):
        while not all(t.done() for t in others) and not await blocked_on_the_events_lock(core):  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    seen: list[str] = []
    checkpoint = 0

    async def read_on() -> None:  # what every subscriber does: read after its checkpoint
        nonlocal checkpoint
        for envelope in await core.store.read_all(checkpoint):
            seen.append(envelope.id)
            checkpoint = envelope.position

    await read_on()
    release.set()
    await late_append
    await asyncio.gather(*others)
    await read_on()

    everything = [e.id for e in await core.store.read_all(0)]
    missed = [i for i in everything if i not in seen]
    assert len(everything) == 1 + len(late) + len(others)
    if locked:
        assert not missed, "the reader skipped events that committed late"
        assert seen == everything, "seen out of order or twice"
    else:
        assert missed == [e.id for e in late], "without the lock the late append is skipped"
