"""The event store on Postgres: append with an expected version, read a stream, read the log.

Every append takes the events table lock, so the global `position` order equals commit order.
The lock also makes an append's guards (`NoneSince`) exact: what they check cannot change
before the append commits, and it gives each event a single predecessor in the whole log, which
the tamper-evident chain (`chain.py`) links to.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
import psycopg
from psycopg import sql

from adpipe.errors import Conflict, DependencyUnavailable, StreamVersionConflict
from adpipe.events.base import Event
from adpipe.events.catalogue import (
    Envelope,
    Metadata,
    NewEvent,
    decode_event,
    event_to_builtins,
)
from adpipe.observability import tracing
from adpipe.observability.metrics import EVENTS_APPENDED

from .chain import canonical_json, link

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

ANY: Final = "any"
NO_STREAM: Final = 0
ExpectedVersion = int | Literal["any"]
NOTIFY_CHANNEL: Final = "adpipe_events"

_COLUMNS = "position, id, stream, version, type, data::text, metadata::text, recorded_at, hash"
_metadata_decoder = msgspec.json.Decoder(Metadata)


def envelope_from_row(row: Sequence[Any]) -> Envelope:
    position, event_id, stream, version, event_type, data, metadata, recorded_at, hash_ = row
    return Envelope(
        id=str(event_id),
        stream=stream,
        version=version,
        position=position,
        type=event_type,
        data=decode_event(data),
        metadata=_metadata_decoder.decode(metadata),
        recorded_at=recorded_at,
        hash=hash_,
    )


class NoneSince(msgspec.Struct, frozen=True, kw_only=True):
    """Guard: no event of one of `types` was appended after log `position` (0: ever), in
    `stream` or, without one, anywhere — counting only events whose data contains `matching`
    (jsonb containment), so a rule about one client is not tripped by another's work."""

    position: int = 0
    types: tuple[str, ...]
    stream: str | None = None
    matching: dict[str, Any] | None = None
    reason: str


class GuardFailed(Conflict):
    """An append's guard did not hold: what the caller decided on has changed (409)."""


def _transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        psycopg.errors.LockNotAvailable
        | psycopg.errors.SerializationFailure
        | psycopg.errors.DeadlockDetected
        | psycopg.OperationalError,
    )


def _guard_query(guard: NoneSince) -> tuple[str, list[Any]]:
    """A query answering one row whose first column is true when `guard` holds."""
    query = "SELECT NOT EXISTS (SELECT 1 FROM events WHERE position > %s AND type = ANY(%s)"
    params: list[Any] = [guard.position, list(guard.types)]
    if guard.stream is not None:
        query += " AND stream = %s"
        params.append(guard.stream)
    if guard.matching is not None:
        query += " AND data @> %s::jsonb"
        params.append(canonical_json(guard.matching))
    return query + ")", params


class EventStore:
    """Append and read events; one instance per process, sharing a connection pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        *,
        lock_timeout_ms: int = 5000,
        transient_retries: int = 3,
        chain_key: bytes | None = None,
    ) -> None:
        self.pool = pool
        self._chain_key = chain_key
        self._lock_timeout = f"{int(lock_timeout_ms)}ms"
        self._transient_retries = transient_retries

    async def append(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion,
        metadata: Metadata | None = None,
        *,
        guards: Sequence[NoneSince] = (),
    ) -> list[Envelope]:
        """Appends atomically; raises StreamVersionConflict when the stream moved on, and
        GuardFailed when one of `guards` (checks on other streams or the log) does not hold.

        Repeating an append whose event ids are already in the stream answers the recorded
        envelopes and writes nothing, so a client retry after a lost reply is harmless.
        """
        batch = [e if isinstance(e, NewEvent) else NewEvent(event=e) for e in events]
        if not batch:
            return []
        # The appending span's context rides along, so whoever consumes the event continues it.
        meta = tracing.stamp(metadata or Metadata())
        for attempt in range(self._transient_retries + 1):
            try:
                return await self._append_once(stream, batch, expected_version, meta, guards)
            except (Conflict, StreamVersionConflict):
                raise
            except Exception as exc:
                if not _transient(exc) or attempt == self._transient_retries:
                    if isinstance(exc, psycopg.OperationalError):
                        raise DependencyUnavailable(
                            f"the event store is unavailable: {exc}"
                        ) from exc
                    raise
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _append_once(
        self,
        stream: str,
        batch: list[NewEvent],
        expected: ExpectedVersion,
        meta: Metadata,
        guards: Sequence[NoneSince],
    ) -> list[Envelope]:
        ids = [uuid.UUID(e.id) for e in batch]
        meta_json = canonical_json(msgspec.to_builtins(meta))
        datas = [canonical_json(event_to_builtins(new.event)) for new in batch]
        async with self.pool.connection() as conn, conn.transaction():
            # Pipelined: the lock, the duplicate check, the heads of the stream and of the log,
            # and the stored (jsonb-normalised) forms the chain hashes cost one round trip.
            async with conn.pipeline():
                stored_cur = await conn.execute(
                    "SELECT %s::jsonb::text, d::jsonb::text FROM unnest(%s::text[])"
                    " WITH ORDINALITY AS u(d, n) ORDER BY n",
                    [meta_json, datas],
                )
                await conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(self._lock_timeout))
                )
                # Why EXCLUSIVE: positions come from an identity sequence, and two transactions
                # could otherwise commit out of position order — a reader at position N would
                # then skip the late N-1 forever. EXCLUSIVE blocks other appends (not readers)
                # until we commit, so insert order is commit order and the log has no holes to
                # skip. Bounded by lock_timeout; a timeout is transient and retried.
                await conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")
                dup_cur = await conn.execute(
                    f"SELECT {_COLUMNS} FROM events WHERE id = ANY(%s) ORDER BY position", [ids]
                )
                head_cur = await conn.execute(
                    "SELECT version, hash FROM events WHERE stream = %s"
                    " ORDER BY version DESC LIMIT 1",
                    [stream],
                )
                log_head_cur = await conn.execute(
                    "SELECT hash FROM events ORDER BY position DESC LIMIT 1"
                )
                guard_curs = [await conn.execute(*_guard_query(g)) for g in guards]
                stored = await stored_cur.fetchall()
                existing = await dup_cur.fetchall()
                last = await head_cur.fetchone()
                log_head = await log_head_cur.fetchone()
                held = [bool((await cur.fetchone() or (False,))[0]) for cur in guard_curs]
            if existing:
                if len(existing) == len(ids) and all(r[2] == stream for r in existing):
                    return [envelope_from_row(r) for r in existing]
                raise Conflict(
                    f"event ids already recorded elsewhere: {[str(r[1]) for r in existing]}"
                )
            current, prev_hash = (last[0], last[1]) if last else (0, "")
            prev_in_log = log_head[0] if log_head else ""
            if expected != ANY and expected != current:
                raise StreamVersionConflict(stream, expected, current)
            for guard, ok in zip(guards, held, strict=True):
                if not ok:
                    raise GuardFailed(guard.reason)
            recorded_at = datetime.now(UTC)
            columns: tuple[list[Any], ...] = ([], [], [], [], [])
            for offset, (new, data, (meta_text, data_text)) in enumerate(
                zip(batch, datas, stored, strict=True), start=1
            ):
                event_type = type(new.event).type_name()
                prev_hash = prev_in_log = link(
                    self._chain_key,
                    prev_hash,
                    prev_in_log,
                    event_id=new.id,
                    stream=stream,
                    version=current + offset,
                    event_type=event_type,
                    data_text=data_text,
                    metadata_text=meta_text,
                    recorded_at=recorded_at,
                )
                for column, value in zip(
                    columns,
                    (new.id, current + offset, event_type, data, prev_hash),
                    strict=True,
                ):
                    column.append(value)
            ids_col, versions, types, data_col, hashes = columns
            async with conn.pipeline():
                cur = await conn.execute(
                    "INSERT INTO events (id, stream, version, type, data, metadata, recorded_at,"
                    " hash) SELECT i, %s, v, t, d, %s::jsonb, %s, h"
                    " FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::jsonb[], %s::text[])"
                    " AS u(i, v, t, d, h)"
                    f" RETURNING {_COLUMNS}",
                    [stream, meta_json, recorded_at, ids_col, versions, types, data_col, hashes],
                )
                # Delivered at commit; it only wakes readers, who re-read from their checkpoint.
                await conn.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
                rows = await cur.fetchall()
            envelopes = sorted((envelope_from_row(r) for r in rows), key=lambda e: e.version)
        for envelope in envelopes:  # committed: count it (an idempotent repeat returned above)
            EVENTS_APPENDED.labels(envelope.type).inc()
        return envelopes

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
