"""One reader of the log for every live SSE stream of an API process.

Each append's notification wakes the hub, which reads what is new for all the streams being
watched in one query and hands each event to the queues of that job's streams — no query per
stream per append. The hub also checks, once per half heartbeat and in one query, that the keys
holding streams are still valid, and closes the streams of a revoked key; and it caps the streams
one key may hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adpipe.errors import TooManyRequests
from adpipe.storage.eventstore import envelope_from_row
from adpipe.tasks import cancel_and_wait

from .keys import hash_key

if TYPE_CHECKING:
    from adpipe.context import Core
    from adpipe.events.catalogue import Envelope

log = logging.getLogger(__name__)

_COLUMNS = "position, id, stream, version, type, data::text, metadata::text, recorded_at, hash"
_BATCH = 500


@dataclass(eq=False)
class Watch:
    """One open stream: the job it follows and the queue the hub fills for it."""

    stream: str
    key_hash: str
    queue: asyncio.Queue[Envelope | None] = field(default_factory=asyncio.Queue)
    revoked: bool = False


class LiveHub:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._watches: dict[str, set[Watch]] = {}
        self._per_key: Counter[str] = Counter()
        self._position = 0
        self._filter: set[str] | None = None  # the streams the read in flight asks for
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._position = await self.core.store.last_position()
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def check_capacity(self, token: str) -> None:
        """429 when the key already holds its cap of live streams."""
        cap = self.core.settings.sse_streams_per_key
        if self._per_key[hash_key(token)] >= cap:
            raise TooManyRequests(
                f"this API key already holds {cap} live streams; close one first",
                retry_after=max(1, int(self.core.settings.sse_heartbeat_seconds)),
                limit="sse_streams_per_key",
            )

    @contextlib.asynccontextmanager
    async def watch(self, stream: str, token: str) -> AsyncIterator[Watch]:
        """Registers a stream for as long as the block runs. Events the hub reads from here on
        reach its queue; the caller reads the past itself *after* entering, so nothing falls
        between the two."""
        self.check_capacity(token)
        key_hash = hash_key(token)
        watch = Watch(stream=stream, key_hash=key_hash)
        self._watches.setdefault(stream, set()).add(watch)
        self._per_key[key_hash] += 1
        try:
            yield watch
        finally:
            self._per_key[key_hash] -= 1
            if not self._per_key[key_hash]:
                del self._per_key[key_hash]
            watches = self._watches.get(stream)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[stream]

    async def _run(self) -> None:
        waker = self.core.waker
        check_every = max(0.05, self.core.settings.sse_heartbeat_seconds / 2)
        loop = asyncio.get_running_loop()
        next_check = loop.time() + check_every
        while True:
            try:
                seen = waker.generation
                more = await self._dispatch()
                if loop.time() >= next_check:
                    await self._close_revoked()
                    next_check = loop.time() + check_every
                if not more:
                    await waker.wait(seen, max(0.01, next_check - loop.time()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database blinked: streams wait, nothing is skipped
                log.warning("live hub could not read the log (%s); retrying", exc)
                await asyncio.sleep(0.5)

    async def _dispatch(self) -> bool:
        """Reads what is new for the watched streams; True when a full batch suggests more."""
        start = self._position
        self._filter = set(self._watches)
        try:
            end, rows = await self._read(start, self._filter, _BATCH)
            full = len(rows) == _BATCH
            self._deliver(rows)
            # A watch that arrived while the read was in flight was not in its filter, and its
            # own read of the past may have been taken before the read's snapshot: read its
            # stream over the same range so nothing in between is missed.
            while late := set(self._watches) - self._filter:
                self._filter |= late
                _, rows = await self._read(start, late, None, until=end)
                self._deliver(rows)
        finally:
            self._filter = None
        self._position = end
        return full

    async def _read(
        self, after: int, streams: set[str], limit: int | None, until: int | None = None
    ) -> tuple[int, list[Envelope]]:
        """Events of `streams` in (after, end] and the end: the log's head in this statement's
        snapshot (appends commit in position order — the event store's table lock — so all up
        to it is visible), or `until`, or the last event read when `limit` cut the batch."""
        async with self.core.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT coalesce(max(position), 0) FROM events"
                if until is None
                else "SELECT %s::bigint",
                [] if until is None else [until],
            )
            head_row = await cur.fetchone()
            head = int(head_row[0]) if head_row else after
            if not streams:
                return max(head, after), []
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE position > %s AND position <= %s"
                " AND stream = ANY(%s) ORDER BY position"
                + (" LIMIT %s" if limit is not None else ""),
                [after, head, list(streams), *([limit] if limit is not None else [])],
            )
            rows = [envelope_from_row(r) for r in await cur.fetchall()]
        if limit is not None and len(rows) == limit:
            return rows[-1].position, rows
        return max(head, after), rows

    def _deliver(self, envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            for watch in self._watches.get(envelope.stream, ()):
                watch.queue.put_nowait(envelope)

    async def _close_revoked(self) -> None:
        keys = list(self._per_key)
        if not keys:
            return
        async with self.core.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT key_hash FROM api_keys WHERE key_hash = ANY(%s) AND revoked_at IS NULL",
                [keys],
            )
            valid = {row[0] for row in await cur.fetchall()}
        for watches in self._watches.values():
            for watch in watches:
                if watch.key_hash not in valid and not watch.revoked:
                    watch.revoked = True
                    watch.queue.put_nowait(None)
