"""The event store on Postgres: append with an expected version, read a stream, read the log.

Every append takes the events table lock, so the global `position` order equals commit order.
The lock also makes an append's guards (`NoneSince`) exact: what they check cannot change
before the append commits, and it gives each event a single predecessor in the whole log, which
the tamper-evident chain (`chain.py`) links to. Appends made at once in one process share one
locked transaction (`groupcommit.py`, where the ordering is decided and why).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from adpipe.domain.guards import NoneSince
from adpipe.events.base import Event
from adpipe.events.catalogue import Envelope, Metadata, NewEvent
from adpipe.observability import tracing

from .chain import canonical_json
from .groupcommit import (
    ANY,
    COLUMNS,
    NOTIFY_CHANNEL,
    Command,
    ExpectedVersion,
    GroupCommit,
    GuardFailed,
    command,
    envelope_from_row,
)

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

__all__ = [
    "ANY",
    "NOTIFY_CHANNEL",
    "NO_STREAM",
    "EventStore",
    "ExpectedVersion",
    "GuardFailed",
    "NoneSince",
    "canonical_json",
    "envelope_from_row",
]

NO_STREAM: Final = 0
_COLUMNS = COLUMNS


class EventStore:
    """Append and read events; one instance per process, sharing a connection pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        *,
        lock_timeout_ms: int = 5000,
        transient_retries: int = 3,
        chain_key: bytes | None = None,
        before_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`before_commit` is for tests: awaited in every append transaction before it commits."""
        self.pool = pool
        self._appender = GroupCommit(
            pool,
            chain_key=chain_key,
            lock_timeout_ms=lock_timeout_ms,
            transient_retries=transient_retries,
            before_commit=before_commit,
        )

    async def append(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion,
        metadata: Metadata | None = None,
        *,
        guards: Sequence[NoneSince] = (),
        follows: Sequence[asyncio.Future[list[Envelope]]] = (),
    ) -> list[Envelope]:
        """Appends atomically; raises StreamVersionConflict when the stream moved on, and
        GuardFailed when one of `guards` (checks on other streams or the log) does not hold.

        Repeating an append whose event ids are already in the stream answers the recorded
        envelopes and writes nothing, so a client retry after a lost reply is harmless.
        Transient errors (a lock timeout, a lost connection) are retried; when retries are
        spent, an unreachable database raises DependencyUnavailable.

        `follows` are appends queued by `append_soon`: this one is written only if they were
        (or were already recorded), and after them; else it is refused (Conflict).
        """
        cmd = self._command(stream, events, expected_version, metadata, guards, follows)
        return [] if cmd is None else await self._appender.submit(cmd)

    def append_soon(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion,
        metadata: Metadata | None = None,
    ) -> asyncio.Future[list[Envelope]]:
        """`append`, queued now and answered by the future: an append that must come after it
        in the log, and only if it is written, names it in `follows` and shares its batch
        (one transaction and one commit for both, where awaiting each would take two)."""
        cmd = self._command(stream, events, expected_version, metadata, (), ())
        if cmd is None:
            done: asyncio.Future[list[Envelope]] = asyncio.get_running_loop().create_future()
            done.set_result([])
            return done
        return self._appender.enqueue(cmd)

    def _command(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion,
        metadata: Metadata | None,
        guards: Sequence[NoneSince],
        follows: Sequence[asyncio.Future[list[Envelope]]],
    ) -> Command | None:
        batch = [e if isinstance(e, NewEvent) else NewEvent(event=e) for e in events]
        if not batch:
            return None
        # The appending span's context rides along, so whoever consumes the event continues it.
        meta = tracing.stamp(metadata or Metadata())
        return command(stream, batch, expected_version, meta, guards, follows)

    async def read_stream(self, stream: str, after_version: int = 0) -> list[Envelope]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE stream = %s AND version > %s"
                " ORDER BY version",
                [stream, after_version],
            )
            return [envelope_from_row(r) for r in await cur.fetchall()]

    async def read_all(self, after_position: int = 0, limit: int = 500) -> list[Envelope]:
        """The log in global order, from just after `after_position`."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE position > %s ORDER BY position LIMIT %s",
                [after_position, limit],
            )
            return [envelope_from_row(r) for r in await cur.fetchall()]

    async def last_position(self) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT coalesce(max(position), 0) FROM events")
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    async def stream_version(self, stream: str) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT coalesce(max(version), 0) FROM events WHERE stream = %s", [stream]
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0
