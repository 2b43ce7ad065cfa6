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

from adpipe.tasks import cancel_and_wait, raise_if_cancelling

from .eventstore import NOTIFY_CHANNEL

if TYPE_CHECKING:
    from adpipe.events.catalogue import Envelope

    from .eventstore import EventStore

log = logging.getLogger(__name__)


class _Listener:
    """One LISTEN connection for every channel of the wakers sharing it: each costs Postgres a
    backend (and its resident memory) per process, so a process listens once. Runs while any of
    its wakers is started; a channel added while it runs reconnects it with that one too."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.channels: dict[str, Waker] = {}
        self._task: asyncio.Task[None] | None = None
        self._users = 0
        self._live: set[str] = set()  # the channels the running connection listens on
        self.listening = asyncio.Event()

    async def acquire(self) -> None:
        self._users += 1
        if self._task is not None and self._live != set(self.channels):
            # A channel added since it connected: listen again, on every channel.
            await cancel_and_wait(self._task)
            self._task = None
            self.listening.clear()
        if self._task is None:
            self._live = set(self.channels)
            self._task = asyncio.create_task(self._listen(), name="waker")

    async def release(self) -> None:
        self._users -= 1
        if self._users <= 0 and self._task is not None:
            task, self._task = self._task, None
            await cancel_and_wait(task)
            self.listening.clear()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    for channel in self._live:
                        await conn.execute(f"LISTEN {channel}")
                    delay = 0.1
                    # Anything committed while we were not listening: wake readers to re-read
                    # (and run each waker's on_change) before anyone is told we listen.
                    for waker in list(self.channels.values()):
                        await waker.bump()
                    self.listening.set()
                    async for notify in conn.notifies():
                        notified = self.channels.get(notify.channel)
                        if notified is not None:
                            await notified.bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect with backoff; readers keep polling meanwhile
                self.listening.clear()
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


class Waker:
    """Notifications of one channel, fanned out to every waiting reader of this process.

    Wakers made with `on` share their LISTEN connection. Started explicitly, or on the first
    `wait`: a process whose work never waits on the log (the downloader, the renderer) opens no
    LISTEN connection at all."""

    def __init__(
        self, conninfo: str, channel: str = NOTIFY_CHANNEL, *, _listener: _Listener | None = None
    ) -> None:
        self.channel = channel
        self._listener = _listener or _Listener(conninfo)
        self._listener.channels.setdefault(channel, self)
        self._generation = 0
        self._changed = asyncio.Condition()
        self._started = self._stopped = False
        # Called at once (before any waiter wakes) on every notification of the channel, and
        # when the connection is (re)made, before `listening` is set again: what changed while
        # it was down is unknown. While it is down, `listening` is clear.
        self.on_change: list[Callable[[], None]] = []

    def on(self, channel: str) -> Waker:
        """The waker of `channel` on this one's LISTEN connection."""
        listener = self._listener
        return listener.channels.get(channel) or Waker(
            listener.conninfo, channel, _listener=listener
        )

    @property
    def listening(self) -> asyncio.Event:
        return self._listener.listening

    async def start(self) -> None:
        if not self._started:
            self._started, self._stopped = True, False
            await self._listener.acquire()

    async def stop(self) -> None:
        self._stopped = True
        if self._started:
            self._started = False
            await self._listener.release()

    async def bump(self) -> None:
        for callback in self.on_change:
            callback()
        async with self._changed:
            self._generation += 1
            self._changed.notify_all()

    async def wait(self, seen: int, within: float) -> int:
        """Waits until a notification newer than `seen` arrives or the timeout passes."""
        if not self._started and not self._stopped:
            await self.start()
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
        raise_if_cancelling()  # its readers wait on pools, where a cancellation can be lost
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
