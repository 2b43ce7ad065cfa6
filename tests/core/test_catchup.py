"""The shared catch-up reader: resumes from its checkpoint, never skips, closes what it opens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from adpipe.context import Core
from adpipe.events.catalogue import Envelope
from adpipe.storage.catchup import CatchUpReader
from adpipe.tasks import cancel_and_wait
from core.test_projector import seed_clients
from testkit.core import eventually


class Recorder:
    """A fold that remembers the positions it committed, optionally failing once at one of them."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.seen: list[int] = []
        self.fail_at = fail_at

    async def __call__(self, conn: Any, batch: Sequence[Envelope]) -> None:
        positions = [e.position for e in batch]
        if self.fail_at in positions:
            self.fail_at = None
            raise RuntimeError("simulated failure mid-batch")
        # The fold runs only after the checkpoint row was locked and checked, and nothing after
        # it in the transaction can fail here, so these are exactly the committed positions.
        self.seen.extend(positions)


async def all_positions(core: Core) -> list[int]:
    return [e.position for e in await core.store.read_all(0, 100_000)]


async def test_a_reader_resumes_from_its_checkpoint(core: Core) -> None:
    await seed_clients(core, 10, 2)
    first = Recorder()
    end = await CatchUpReader("test:resume", core.store, core.pool, first, batch_size=7).catch_up()
    assert first.seen == await all_positions(core)
    assert end == first.seen[-1]

    await seed_clients(core, 5, 1)
    second = Recorder()
    reader = CatchUpReader("test:resume", core.store, core.pool, second, batch_size=7)
    assert await reader.checkpoint() == end
    await reader.catch_up()
    assert second.seen == [p for p in await all_positions(core) if p > end]


async def test_a_failed_batch_moves_nothing_and_is_retried_not_skipped(core: Core) -> None:
    await seed_clients(core, 20, 3)
    positions = await all_positions(core)
    fold = Recorder(fail_at=positions[len(positions) // 2])
    reader = CatchUpReader("test:retry", core.store, core.pool, fold, batch_size=9)
    task = asyncio.create_task(reader.run())
    try:
        await eventually(lambda: _reached(reader, positions[-1]), within=30)
        # Following live after catching up: what is appended now arrives too.
        await seed_clients(core, 3, 0)
        positions = await all_positions(core)
        await eventually(lambda: _reached(reader, positions[-1]), within=30)
    finally:
        await cancel_and_wait(task)
    assert fold.fail_at is None, "the failure never happened"
    assert fold.seen == positions


async def test_two_readers_of_one_checkpoint_apply_each_batch_exactly_once(core: Core) -> None:
    await seed_clients(core, 30, 3)
    folds = [Recorder(), Recorder()]
    readers = [
        CatchUpReader("test:twice", core.store, core.pool, fold, batch_size=5, poll_seconds=0.05)
        for fold in folds
    ]
    tasks = [asyncio.create_task(r.run()) for r in readers]
    try:
        await seed_clients(core, 10, 1)  # appended while both read
        positions = await all_positions(core)
        await eventually(lambda: _reached(readers[0], positions[-1]), within=30)
    finally:
        for task in tasks:
            await cancel_and_wait(task)
    assert sorted(folds[0].seen + folds[1].seen) == positions


class Tracked(CatchUpReader):
    """Keeps every follow iterator it opens, so only an explicit close can end one."""

    opened: list[AsyncGenerator[list[Envelope], None]]
    closed: int

    def batches(self, position: int) -> AsyncGenerator[list[Envelope], None]:
        async def tracked() -> AsyncGenerator[list[Envelope], None]:
            try:
                async for batch in super(Tracked, self).batches(position):
                    yield batch
            finally:
                self.closed += 1

        iterator = tracked()
        self.opened.append(iterator)  # a strong reference: the garbage collector cannot close it
        return iterator


async def test_a_cancelled_reader_closes_its_follow_iterator(core: Core) -> None:
    await seed_clients(core, 3, 0)
    folding = asyncio.Event()

    async def stuck(conn: Any, batch: Sequence[Envelope]) -> None:
        folding.set()
        await asyncio.Event().wait()

    reader = Tracked("test:close", core.store, core.pool, stuck, waker=core.waker)
    reader.opened, reader.closed = [], 0
    task = asyncio.create_task(reader.run())
    async with asyncio.timeout(30):
        await folding.wait()
    await cancel_and_wait(task)
    assert len(reader.opened) == 1
    assert reader.closed == 1


async def _reached(reader: CatchUpReader, position: int) -> bool:
    return await reader.checkpoint() >= position
