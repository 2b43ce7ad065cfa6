"""A reader of the log stops when cancelled even if a library swallowed the cancellation.

Python 3.11's `asyncio.wait_for` can return a result that raced with a cancel and drop the
cancel (psycopg_pool waits for a free connection with it); a TaskGroup cancels its children
once, so a reader that loses that one cancel would keep its process from ever stopping.
"""

from __future__ import annotations

import asyncio
from typing import Any

from adpipe.storage.subscription import follow


class SwallowingStore:
    """A store whose read answers, the first time it is cancelled, as if the cancel had lost
    the race: it returns an (empty) result instead of raising."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.swallowed = 0

    async def read_all(self, position: int, batch_size: int) -> list[Any]:
        self.reading.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1
        return []


async def test_a_follower_whose_cancellation_was_swallowed_still_stops() -> None:
    store = SwallowingStore()

    async def read() -> None:
        async for _ in follow(store, 0, None, poll_seconds=0.01):  # type: ignore[arg-type]
            pass

    task = asyncio.create_task(read())
    await store.reading.wait()
    task.cancel()  # one cancel, as a TaskGroup sends it, and it is lost inside the read
    done, _ = await asyncio.wait({task}, timeout=30)
    assert store.swallowed == 1
    assert task in done, "the follower ran on after its cancellation was swallowed"
    assert task.cancelled()
