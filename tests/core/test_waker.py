"""The LISTEN waker: one connection per process for all its channels, opened on first use."""

from __future__ import annotations

import psycopg

from adpipe.context import Core
from adpipe.projector import PROJECTIONS_CHANNEL
from adpipe.storage.eventstore import NOTIFY_CHANNEL
from adpipe.webhooks import outbox
from testkit.core import eventually


async def listening_backends(core: Core) -> int:
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %%'"
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def notify(core: Core, channel: str) -> None:
    async with await psycopg.AsyncConnection.connect(
        core.settings.database_url, autocommit=True
    ) as conn:
        await conn.execute(f"NOTIFY {channel}")


async def test_a_process_listens_on_every_channel_over_one_connection_from_its_first_wait(
    core: Core,
) -> None:
    projections = core.waker.on(PROJECTIONS_CHANNEL)
    assert core.waker.on(PROJECTIONS_CHANNEL) is projections
    assert core.waker.on(NOTIFY_CHANNEL) is core.waker
    # Nothing waited yet (a renderer, a downloader never does): no LISTEN connection.
    assert await listening_backends(core) == 0
    assert not core.waker.listening.is_set()

    seen = core.waker.generation
    seen = await core.waker.wait(seen, 5)  # starts it; connected, it wakes readers once
    await projections.start()
    outbox_waker = core.waker.on(outbox.CHANNEL)
    await outbox_waker.start()  # a channel added while it listens: it listens again, on all
    await eventually(lambda: _true(core.waker.listening.is_set()), within=10)
    assert await listening_backends(core) == 1

    for waker, channel in (
        (core.waker, NOTIFY_CHANNEL),
        (projections, PROJECTIONS_CHANNEL),
        (outbox_waker, outbox.CHANNEL),
    ):
        before = waker.generation
        await notify(core, channel)
        assert await waker.wait(before, 10) != before, channel

    await outbox_waker.stop()
    await projections.stop()
    assert await listening_backends(core) == 1  # the core's waker still listens
    await core.waker.stop()
    await eventually(lambda: _listening(core, 0), within=10)


async def _listening(core: Core, count: int) -> bool:
    return await listening_backends(core) == count


async def _true(value: bool) -> bool:
    return value
