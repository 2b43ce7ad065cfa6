"""Single-resource reads kept in memory: answered without a query until a read model moves, and
never once a move is known — the projector's NOTIFY, or this process's own write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool

from adpipe.api.grouped_reads import Lookups, ReadCache
from adpipe.context import Core
from adpipe.projections import PROJECTION_NAMES
from adpipe.projector import PROJECTIONS_CHANNEL, ProjectionsWatch
from adpipe.storage.subscription import Waker

from .conftest import Client, new_client


@pytest.fixture
async def waker(core: Core) -> AsyncIterator[Waker]:
    waker = Waker(core.settings.database_url, PROJECTIONS_CHANNEL)
    await waker.start()
    await asyncio.wait_for(waker.listening.wait(), 10)
    yield waker
    await waker.stop()


def cached_lookups(core: Core, waker: Waker, max_age: float = 60.0) -> Lookups:
    cache = ReadCache(max_age, waker.listening.is_set)
    waker.on_change.append(cache.forget)
    return Lookups(core.pool, "EUR", cache)


async def rename_quietly(core: Core, client_id: str, name: str) -> None:
    """Changes the read model behind the API's back: no event, no NOTIFY."""
    async with core.pool.connection() as conn:
        await conn.execute("UPDATE clients SET name = %s WHERE id = %s", [name, client_id])


async def notify(core: Core, waker: Waker) -> None:
    """What the projector does at each commit, and the moment this process has heard it."""
    seen = waker.generation
    async with core.pool.connection() as conn:
        await conn.execute("SELECT pg_notify(%s, '1')", [PROJECTIONS_CHANNEL])
    assert await waker.wait(seen, 10) != seen


async def test_a_kept_row_answers_from_memory(alice: Client, core: Core) -> None:
    client_id = await new_client(alice, "Before")
    cache = ReadCache(60.0, lambda: True)  # hears no move
    lookups = Lookups(core.pool, "EUR", cache)
    first = await lookups.clients.get("alice", client_id)
    again = await lookups.clients.get("alice", client_id)
    assert first is not None and again is first
    assert (lookups.clients.queries, cache.hits) == (1, 1)
    # Unannounced, the change is not seen: the row really comes from memory.
    await rename_quietly(core, client_id, "After")
    kept = await lookups.clients.get("alice", client_id)
    assert kept is not None and kept["name"] == "Before"
    # Another user's key never reaches it.
    assert await lookups.clients.get("bob", client_id) is None


async def test_a_notify_from_the_projector_forgets_what_was_kept(
    alice: Client, core: Core, waker: Waker
) -> None:
    client_id = await new_client(alice, "Before")
    lookups = cached_lookups(core, waker)
    await lookups.clients.get("alice", client_id)
    await rename_quietly(core, client_id, "After")
    await notify(core, waker)
    fresh = await lookups.clients.get("alice", client_id)
    assert fresh is not None and fresh["name"] == "After"


async def test_nothing_is_kept_without_a_listening_connection_or_past_its_age(
    alice: Client, core: Core, waker: Waker
) -> None:
    client_id = await new_client(alice)
    lookups = cached_lookups(core, waker, max_age=0.05)
    await lookups.clients.get("alice", client_id)
    await asyncio.sleep(0.1)
    await lookups.clients.get("alice", client_id)
    assert lookups.clients.queries == 2  # too old: read again

    await waker.stop()  # no longer hearing moves: every read asks Postgres
    lookups = cached_lookups(core, waker)
    for _ in range(3):
        await lookups.clients.get("alice", client_id)
    assert lookups.clients.queries == 3


async def test_a_row_read_across_a_move_is_not_kept(alice: Client, core: Core) -> None:
    """The query began before the move was heard: what it read may be from before the move."""
    client_id = await new_client(alice)
    cache = ReadCache(60.0, lambda: True)
    async with AsyncConnectionPool(
        core.settings.database_url, min_size=1, max_size=1, open=False
    ) as pool:
        lookups = Lookups(pool, "EUR", cache)
        async with pool.connection():  # the read's query waits for this connection
            read = asyncio.create_task(lookups.clients.get("alice", client_id))
            for _ in range(5):
                await asyncio.sleep(0)
            assert not read.done()
            cache.forget()
        assert await read is not None
        await lookups.clients.get("alice", client_id)
        assert lookups.clients.queries == 2


async def test_own_writes_are_read_at_once(alice: Client) -> None:
    """Each change is answered only once it is readable, and the next read shows it, though the
    read before it was kept."""
    client_id = await new_client(alice, "Name 0")
    for n in range(1, 21):
        before = await alice.get(f"/api/v3/clients/{client_id}")
        assert before.json()["name"] == f"Name {n - 1}"
        changed = await alice.put(f"/api/v3/clients/{client_id}", json={"name": f"Name {n}"})
        assert changed.status == 200, changed.body
        after = await alice.get(f"/api/v3/clients/{client_id}")
        assert after.json()["name"] == f"Name {n}"


async def test_learning_a_write_is_readable_forgets_what_was_kept(
    alice: Client, core: Core
) -> None:
    """This process may learn its write is readable (the checkpoints reached it) before the
    projector's NOTIFY arrives: what it kept from before must not answer the next read."""
    client_id = await new_client(alice, "Before")
    cache = ReadCache(60.0, lambda: True)  # hears no NOTIFY at all
    lookups = Lookups(core.pool, "EUR", cache)
    watch = ProjectionsWatch(core.pool, PROJECTION_NAMES, None, on_reached=cache.forget)
    await lookups.clients.get("alice", client_id)
    await rename_quietly(core, client_id, "After")
    kept = await lookups.clients.get("alice", client_id)
    assert kept is not None and kept["name"] == "Before"
    await watch.wait(1, 5)  # a write at position 1 is readable
    fresh = await lookups.clients.get("alice", client_id)
    assert fresh is not None and fresh["name"] == "After"
