"""Following the log live: LISTEN/NOTIFY wakes readers, who always re-read from their checkpoint.

A notification is only a hint. Readers poll as a fallback, so a lost notification (a dropped
LISTEN connection, a restart) delays them by at most one poll interval and never loses an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

import psycopg

from adpipe.tasks import cancel_and_wait

from .eventstore import NOTIFY_CHANNEL

if TYPE_CHECKING:
    from adpipe.events.catalogue import Envelope

    from .eventstore import EventStore

log = logging.getLogger(__name__)


class Waker:
    """One LISTEN connection per process, fanning notifications out to every waiting reader."""

    def __init__(self, conninfo: str, channel: str = NOTIFY_CHANNEL) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._generation = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        # Called at once (before any waiter wakes) on every notification, and whenever the
        # connection is (re)made or lost: what may have changed meanwhile is unknown.
        self.on_change: list[Callable[[], None]] = []

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"waker:{self._channel}")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
            self.listening.clear()

    async def _bump(self) -> None:
        for callback in self.on_change:
            callback()
        async with self._changed:
            self._generation += 1
            self._changed.notify_all()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    delay = 0.1
                    # Anything committed while we were not listening: wake readers to re-read.
                    await self._bump()
                    async for _ in conn.notifies():
                        await self._bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect with backoff; readers keep polling meanwhile
                self.listening.clear()
                for callback in self.on_change:
                    callback()
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def wait(self, seen: int, within: float) -> int:
        """Waits until a notification newer than `seen` arrives or the timeout passes."""
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that
        # races with completion, leaving a cancelled reader running forever.
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self._changed.wait_for(lambda: self._generation != seen)
            return self._generation

    @property
    def generation(self) -> int:
        return self._generation


async def follow(
    store: EventStore,
    after_position: int,
    waker: Waker | None,
    *,
    batch_size: int = 500,
    poll_seconds: float = 1.0,
) -> AsyncGenerator[list[Envelope], None]:
    """Yields batches of the log in position order, forever, from just after `after_position`."""
    position = after_position
    while True:
        seen = waker.generation if waker else 0
        batch = await store.read_all(position, batch_size)
        if batch:
            position = batch[-1].position
            yield batch
            continue
        if waker is None:
            await asyncio.sleep(poll_seconds)
        else:
            await waker.wait(seen, poll_seconds)
