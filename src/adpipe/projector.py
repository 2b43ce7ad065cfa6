"""The projection runtime: catch-up readers of the log that fold events into read-model tables.

Each projection is a `CatchUpReader` (`storage/catchup.py`, shared with the webhook dispatcher):
its checkpoint row commits in the same transaction as its table writes, so an event takes effect
exactly once however often the projector crashes and restarts, and two projector processes, or a
rebuild running beside one, can never apply a batch twice.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from adpipe.errors import DependencyUnavailable
from adpipe.observability import correlation
from adpipe.observability.collectors import LOG_LAG

from .storage.catchup import CatchUpReader, transient

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from adpipe.events.catalogue import Envelope

    from .storage.eventstore import EventStore
    from .storage.subscription import Waker

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

    def reader(self, projection: Projection) -> CatchUpReader:
        """The projection's catch-up reader: its fold, with the skip-and-record slow path."""

        async def fold(conn: AsyncConnection[Any], batch: Sequence[Envelope]) -> None:
            await _fold(conn, projection, batch, isolate=False)

        async def degrade(conn: AsyncConnection[Any], batch: Sequence[Envelope]) -> None:
            # Some event of the batch does not fold: again, each event in a savepoint, so the
            # others take effect and the bad one is recorded. Only this slow path pays for them.
            await _fold(conn, projection, batch, isolate=True)

        return CatchUpReader(
            projection.checkpoint_name(),
            self.store,
            self.pool,
            fold,
            degrade=degrade,
            pipelined=True,
            version=projection.version,
            prepare=lambda: self.ensure_current(projection),
            waker=self.waker,
            batch_size=self.batch_size,
            poll_seconds=self.poll_seconds,
        )

    async def run(self) -> None:
        """Runs every projection until cancelled, each restarting from its checkpoint on error."""
        correlation.bind(role_name="projector")
        # While it runs, this process's metrics show how far each reader trails the log.
        with LOG_LAG.watching(self.pool):
            async with asyncio.TaskGroup() as group:
                for projection in self.projections:
                    group.create_task(self.reader(projection).run(), name=projection.name)

    async def checkpoint(self, projection: Projection) -> int:
        return await self.reader(projection).checkpoint()

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

    async def apply_batch(
        self, projection: Projection, expected: int, batch: Sequence[Envelope]
    ) -> bool:
        """Applies a batch atomically with its checkpoint; False if the checkpoint moved."""
        return await self.reader(projection).apply_batch(expected, batch)

    async def catch_up(self, projection: Projection) -> int:
        """Applies everything up to the log's current end once (rebuilds and tests use this)."""
        return await self.reader(projection).catch_up()

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


async def _fold(
    conn: AsyncConnection[Any], projection: Projection, batch: Sequence[Envelope], *, isolate: bool
) -> None:
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
            if transient(exc):
                raise
            await _record_failure(conn, projection, envelope, exc)
    # Delivered at commit, with the checkpoint: wakes API requests waiting to read their writes.
    await conn.execute("SELECT pg_notify(%s, %s)", [PROJECTIONS_CHANNEL, str(batch[-1].position)])


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


@dataclass(eq=False)
class _Waiter:
    position: int
    names: Sequence[str]
    asked: int  # how many checkpoint queries had started when it began to wait
    future: asyncio.Future[None]


class ProjectionsWatch:
    """`wait_for_projections` for every request of a process at once: one task reads the
    checkpoints each time the projector notifies, and wakes each waiter whose position they
    reached. A hundred concurrent writes waiting cost one query per notification, not a hundred
    (each of which would also wake at every projection's every batch).

    A waiter is answered only by a query that started after it began to wait, so what it is
    told is never older than what waiting on its own would have read (a rebuild that rewound the
    checkpoints is seen, as before)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        names: Sequence[str],
        waker: Waker | None,
        on_reached: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._names = list(names)
        self._waker = waker
        # Called after each read of the checkpoints, before any waiter is told its position is
        # readable: this process may know the read models moved before the projector's NOTIFY
        # reaches it.
        self._on_reached = on_reached
        self._waiting: list[_Waiter] = []
        self._asked = 0
        self._task: asyncio.Task[None] | None = None

    async def wait(self, position: int, within: float, names: Sequence[str] | None = None) -> None:
        """Waits (bounded) until the projections (`names` of them, else all) reached
        `position`; 503 past `within`."""
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(position, self._names if names is None else names, self._asked, future)
        if not waiter.names:
            return  # nothing readable changed
        self._waiting.append(waiter)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="projections-watch")
        try:
            async with asyncio.timeout(within):
                await waiter.future
        except TimeoutError:
            raise DependencyUnavailable(
                f"the read models have not caught up with position {position} within {within:g} s"
            ) from None
        finally:
            if not waiter.future.done():
                waiter.future.cancel()  # the watch forgets it

    async def _watch(self) -> None:
        try:
            while True:
                self._waiting = [w for w in self._waiting if not w.future.done()]
                if not self._waiting:
                    return
                seen = self._waker.generation if self._waker else 0
                self._asked += 1
                asked = self._asked
                reached = await self._checkpoints()
                if self._on_reached is not None:
                    self._on_reached()
                fresh = False
                for waiter in self._waiting:
                    if waiter.future.done():
                        continue
                    if waiter.asked >= asked:
                        fresh = True  # came while the query ran: it needs one of its own
                    elif waiter.position <= min(reached.get(n, 0) for n in waiter.names):
                        waiter.future.set_result(None)
                if fresh:
                    continue
                if self._waker is not None:
                    await self._waker.wait(seen, 0.5)
                else:
                    await asyncio.sleep(0.02)
        except Exception as exc:  # the database went away: every waiter hears it
            for waiter in self._waiting:
                if not waiter.future.done():
                    waiter.future.set_exception(exc)
            self._waiting = []

    async def _checkpoints(self) -> dict[str, int]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT name, position FROM checkpoints WHERE name = ANY(%s)",
                [[f"projection:{n}" for n in self._names]],
            )
            rows = await cur.fetchall()
        return {str(name).removeprefix("projection:"): int(pos) for name, pos in rows}
