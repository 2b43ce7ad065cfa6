"""The projection runtime: catch-up readers of the log that fold events into read-model tables.

Each projection keeps its checkpoint row in the same transaction as its table writes, so an event
takes effect exactly once however often the projector crashes and restarts. The batch transaction
first locks the checkpoint row and checks it still holds the position the batch started from:
two projector processes, or a rebuild running beside one, can never apply a batch twice.

An event a projection cannot fold (a bug, data it does not expect) is skipped and recorded in
`projection_failures` with its error, so one bad event degrades one read model instead of holding
every projection — and every write waiting for them — behind it. `/readyz` reports the degraded
projection; `adpipe replay rebuild` folds the events again once the projection is fixed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import psycopg

from adpipe.errors import DependencyUnavailable
from adpipe.observability import correlation
from adpipe.observability.collectors import LOG_LAG

from .storage.subscription import Waker, follow

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from adpipe.events.catalogue import Envelope

    from .storage.eventstore import EventStore

log = logging.getLogger(__name__)

PROJECTIONS_CHANNEL = "adpipe_projections"


class Projection(ABC):
    """A read model: its tables and how one event changes them (inside the batch transaction)."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    # Event types it reads; None means every event. Others still advance the checkpoint.
    handles: ClassVar[frozenset[str] | None] = None
    # What built its rows (see `shape_version`); a projector finding another version in the
    # checkpoint rebuilds the tables beside the live ones before it goes on.
    version: ClassVar[str] = ""

    @abstractmethod
    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None: ...

    def checkpoint_name(self) -> str:
        return f"projection:{self.name}"


def shape_version(revision: int, *types: type) -> str:
    """A projection version that changes with the JSON shape of the structs its rows hold (a
    field renamed, added or retyped) and with `revision` (bumped by hand when only the code
    that fills them changes). Stored JSON can then never be read back with a field silently
    reset to its default: rows of another shape are rebuilt from the log instead."""
    _, components = msgspec.json.schema_components(types)
    shape = msgspec.json.encode(_without_docs(components), order="sorted")
    return f"{revision}-{hashlib.sha256(shape).hexdigest()[:16]}"


def _without_docs(value: Any) -> Any:
    """A JSON schema without its prose: rewording a docstring changes no stored row."""
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k not in ("title", "description")}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


class Projector:
    def __init__(
        self,
        store: EventStore,
        pool: AsyncConnectionPool[Any],
        projections: Sequence[Projection],
        *,
        waker: Waker | None = None,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.pool = pool
        self.projections = list(projections)
        self.waker = waker
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds

    async def run(self) -> None:
        """Runs every projection until cancelled, each restarting from its checkpoint on error."""
        correlation.bind(role_name="projector")
        # While it runs, this process's metrics show how far each reader trails the log.
        with LOG_LAG.watching(self.pool):
            async with asyncio.TaskGroup() as group:
                for projection in self.projections:
                    group.create_task(self._supervise(projection), name=projection.name)

    async def _supervise(self, projection: Projection) -> None:
        delay = 0.2
        while True:
            try:
                await self._run_one(projection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("projection %s failed (%s); restarting", projection.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def checkpoint(self, projection: Projection) -> int:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO checkpoints (name, position, version) VALUES (%s, 0, %s)"
                " ON CONFLICT DO NOTHING",
                [projection.checkpoint_name(), projection.version],
            )
            cur = await conn.execute(
                "SELECT position FROM checkpoints WHERE name = %s", [projection.checkpoint_name()]
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    async def ensure_current(self, projection: Projection) -> bool:
        """Rebuilds the projection if its rows were built by another version; True if it did.

        The rebuild folds the whole log into scratch tables beside the live ones, which keep
        serving (in their old shape) until the swap, one transaction that also records the new
        version (see `adpipe.replay.shadow`). Another process already rebuilding makes this
        one fail and retry (its supervisor), finding the version current by then."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT version FROM checkpoints WHERE name = %s", [projection.checkpoint_name()]
            )
            row = await cur.fetchone()
        if row is None or row[0] == projection.version:
            return False  # a first start builds from nothing anyway
        from adpipe.replay.shadow import Shadow  # the replay tools build on this module

        log.warning(
            "projection %s was built by version %r, this is %r: rebuilding it from the log",
            projection.name,
            row[0],
            projection.version,
        )
        async with Shadow(self.pool, self.store, projection).opened() as shadow:
            position = await shadow.swap()
        log.info("projection %s rebuilt up to position %d", projection.name, position)
        return True

    async def _run_one(self, projection: Projection) -> None:
        await self.ensure_current(projection)
        position = await self.checkpoint(projection)
        async for batch in follow(
            self.store,
            position,
            self.waker,
            batch_size=self.batch_size,
            poll_seconds=self.poll_seconds,
        ):
            if not await self.apply_batch(projection, position, batch):
                return  # someone else moved the checkpoint: restart from the stored one
            position = batch[-1].position

    async def apply_batch(
        self, projection: Projection, expected: int, batch: Sequence[Envelope]
    ) -> bool:
        """Applies a batch atomically with its checkpoint; False if the checkpoint moved."""
        try:
            return await self._apply_batch(projection, expected, batch, isolate=False)
        except Exception as exc:
            if _transient(exc):
                raise
            # Some event of the batch does not fold: again, each event in a savepoint, so the
            # others take effect and the bad one is recorded. Only this slow path pays for them.
            return await self._apply_batch(projection, expected, batch, isolate=True)

    async def _apply_batch(
        self, projection: Projection, expected: int, batch: Sequence[Envelope], *, isolate: bool
    ) -> bool:
        name = projection.checkpoint_name()
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT position FROM checkpoints WHERE name = %s FOR UPDATE", [name]
            )
            row = await cur.fetchone()
            if row is None or int(row[0]) != expected:
                return False
            for envelope in batch:
                if projection.handles is not None and envelope.type not in projection.handles:
                    continue
                if not isolate:
                    await projection.apply(conn, envelope)
                    continue
                try:
                    async with conn.transaction():  # a savepoint
                        await projection.apply(conn, envelope)
                except Exception as exc:
                    if _transient(exc):
                        raise
                    await _record_failure(conn, projection, envelope, exc)
            await conn.execute(
                "UPDATE checkpoints SET position = %s, updated_at = now() WHERE name = %s",
                [batch[-1].position, name],
            )
            await conn.execute(
                "SELECT pg_notify(%s, %s)", [PROJECTIONS_CHANNEL, str(batch[-1].position)]
            )
        return True

    async def catch_up(self, projection: Projection) -> int:
        """Applies everything up to the log's current end once (rebuilds and tests use this)."""
        position = await self.checkpoint(projection)
        while batch := await self.store.read_all(position, self.batch_size):
            if not await self.apply_batch(projection, position, batch):
                position = await self.checkpoint(projection)
                continue
            position = batch[-1].position
        return position

    async def reset(self, projection: Projection) -> None:
        """Empties the projection's tables and rewinds its checkpoint, in one transaction."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO checkpoints (name, position, version) VALUES (%s, 0, %s)"
                " ON CONFLICT (name) DO UPDATE SET position = 0, version = excluded.version,"
                " updated_at = now()",
                [projection.checkpoint_name(), projection.version],
            )
            for table in projection.tables:
                await conn.execute(f"TRUNCATE {table}")
            await conn.execute(
                "DELETE FROM projection_failures WHERE projection = %s", [projection.name]
            )

    async def rebuild(self, projection: Projection) -> int:
        await self.reset(projection)
        return await self.catch_up(projection)


def _transient(exc: BaseException) -> bool:
    """The database went away or refused for now: retry the batch, skip nothing."""
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.SerializationFailure)


async def _record_failure(
    conn: AsyncConnection[Any], projection: Projection, envelope: Envelope, exc: Exception
) -> None:
    error = f"{type(exc).__name__}: {exc}"
    log.error(
        "projection %s cannot fold event %s (%s at position %d), skipped: %s",
        projection.name,
        envelope.id,
        envelope.type,
        envelope.position,
        error,
    )
    await conn.execute(
        "INSERT INTO projection_failures (projection, position, event_id, event_type, error)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (projection, position)"
        " DO UPDATE SET error = excluded.error, recorded_at = now()",
        [projection.name, envelope.position, envelope.id, envelope.type, error[:2000]],
    )


@dataclass(frozen=True)
class Degraded:
    """A projection that skipped events it could not fold."""

    projection: str
    events: int
    first_position: int
    first_error: str


async def degraded_projections(pool: AsyncConnectionPool[Any]) -> list[Degraded]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT DISTINCT ON (projection) projection, count(*) OVER (PARTITION BY projection),"
            " position, error FROM projection_failures ORDER BY projection, position"
        )
        return [Degraded(r[0], int(r[1]), int(r[2]), r[3]) for r in await cur.fetchall()]


async def projections_position(pool: AsyncConnectionPool[Any], names: Sequence[str]) -> int:
    """The position every named projection has reached (the slowest one's)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(min(position), 0), count(*) FROM checkpoints WHERE name = ANY(%s)",
            [[f"projection:{n}" for n in names]],
        )
        row = await cur.fetchone()
    if row is None or row[1] < len(names):
        return 0
    return int(row[0])


async def wait_for_projections(
    pool: AsyncConnectionPool[Any],
    names: Sequence[str],
    position: int,
    *,
    waker: Waker | None = None,
    within: float = 10.0,
) -> None:
    """Waits (bounded) until the projections reached `position`: read-your-writes for the API."""
    deadline = time.monotonic() + within
    while True:
        seen = waker.generation if waker else 0
        if await projections_position(pool, names) >= position:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise DependencyUnavailable(
                f"the read models have not caught up with position {position} within {within:g} s"
            )
        if waker is not None:
            await waker.wait(seen, min(left, 0.5))
        else:
            await asyncio.sleep(min(left, 0.02))
