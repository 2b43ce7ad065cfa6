"""Shadow builds: fold the whole log through a projection into a scratch schema, beside the live
tables, which keep serving. Then either diff the two (verify) or swap them (rebuild).

Projections name their tables unqualified, so no projection changes: the shadow schema holds
tables of the same names (`CREATE TABLE … (LIKE live INCLUDING ALL)`) and is put first on the
`search_path` while the projection applies events. The swap happens in one transaction that
holds the projection's checkpoint row: the live projector waits, the shadow takes the last events,
the tables change schema, the checkpoint moves to the shadow's position — and the projector,
finding its checkpoint moved, resumes from there on the new tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from adpipe.errors import Conflict
from adpipe.projector import PROJECTIONS_CHANNEL
from adpipe.storage.eventstore import envelope_from_row

from .chain import Problem

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from adpipe.events.catalogue import Envelope
    from adpipe.projector import Projection
    from adpipe.storage.eventstore import EventStore

Progress = Callable[[int], None]

_COLUMNS = "position, id, stream, version, type, data::text, metadata::text, recorded_at, hash"
# Differences shown per table; past this verify says how many more there are.
MAX_SHOWN = 20


def _ident(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


class Shadow:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        store: EventStore,
        projection: Projection,
        *,
        batch_size: int = 2000,
        progress: Progress | None = None,
    ) -> None:
        self.pool = pool
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        self.progress = progress
        safe = re.sub(r"[^a-z0-9_]", "_", projection.name.lower())
        self.schema = f"adpipe_shadow_{safe}"
        self.retired = f"adpipe_retired_{safe}"
        self.position = 0
        self.live = "public"

    @property
    def checkpoint(self) -> str:
        return self.projection.checkpoint_name()

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Shadow]:
        """Creates the scratch schema and drops it afterwards, holding the projection's shadow
        lock throughout: two rebuilds (or a rebuild and a verify) of one read model would
        otherwise build into the same scratch tables."""
        async with self.pool.connection() as lock:
            cur = await lock.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", [f"adpipe:{self.schema}"]
            )
            row = await cur.fetchone()
            if not row or not row[0]:
                raise Conflict(f"a rebuild or verify of {self.projection.name} is already running")
            try:
                await self.create()
                try:
                    yield self
                finally:
                    await self.drop()
            finally:
                await lock.execute(
                    "SELECT pg_advisory_unlock(hashtext(%s))", [f"adpipe:{self.schema}"]
                )

    async def create(self) -> None:
        """An empty scratch copy of every table of the projection (indexes and all)."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT current_schema()")
            row = await cur.fetchone()
            assert row is not None
            self.live = str(row[0])
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(self.schema))
            )
            await conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(self.schema)))
            for table in self.projection.tables:
                await conn.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        _ident(self.schema, table), _ident(self.live, table)
                    )
                )
        self.position = 0

    async def drop(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(self.schema))
            )

    async def build(self, until: int | None = None) -> int:
        """Applies the log from where the shadow stands up to `until` (default: its end)."""
        while True:
            batch = await self.store.read_all(self.position, self.batch_size)
            if until is not None:
                batch = [e for e in batch if e.position <= until]
            if not batch:
                return self.position
            async with self.pool.connection() as conn, conn.transaction():
                await self._apply(conn, batch)

    async def _apply(self, conn: AsyncConnection[Any], batch: Sequence[Envelope]) -> None:
        cur = await conn.execute("SHOW search_path")
        row = await cur.fetchone()
        assert row is not None
        await conn.execute(
            sql.SQL("SET LOCAL search_path TO {}, {}").format(
                _ident(self.schema), _ident(self.live)
            )
        )
        handles = self.projection.handles
        # Pipeline mode: writes go out without waiting for each answer; a read syncs.
        async with conn.pipeline():
            for envelope in batch:
                if handles is None or envelope.type in handles:
                    await self.projection.apply(conn, envelope)
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.SQL(str(row[0]))))
        self.position = batch[-1].position
        if self.progress is not None:
            self.progress(self.position)

    async def _build_within(self, conn: AsyncConnection[Any], until: int | None = None) -> None:
        """Like `build`, on `conn` inside its transaction (what it sees is what gets applied)."""
        while True:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE position > %s"
                " AND (%s::bigint IS NULL OR position <= %s::bigint) ORDER BY position LIMIT %s",
                [self.position, until, until, self.batch_size],
            )
            rows = await cur.fetchall()
            if not rows:
                return
            await self._apply(conn, [envelope_from_row(r) for r in rows])

    async def live_position(self, conn: AsyncConnection[Any] | None = None) -> int:
        query = "SELECT position FROM checkpoints WHERE name = %s"
        if conn is None:
            async with self.pool.connection() as own:
                cur = await own.execute(query, [self.checkpoint])
                row = await cur.fetchone()
        else:
            cur = await conn.execute(query, [self.checkpoint])
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # ---- rebuild --------------------------------------------------------------------------

    async def swap(self, *, lock_timeout_ms: int = 3000, attempts: int = 10) -> int:
        """Replaces the live tables with the shadow's, at the log's end; answers the position."""
        await self.build()  # most of the way without holding anything
        for attempt in range(attempts):
            before = self.position
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    await self._swap_within(conn, lock_timeout_ms)
                return self.position
            except psycopg.errors.LockNotAvailable:
                # A long reader holds a live table; let it finish and try again.
                self.position = before
                await asyncio.sleep(0.2 * (attempt + 1))
        raise TimeoutError(f"could not lock the {self.projection.name} tables to swap them")

    async def _swap_within(self, conn: AsyncConnection[Any], lock_timeout_ms: int) -> None:
        await conn.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{lock_timeout_ms}ms"))
        )
        await conn.execute(
            "INSERT INTO checkpoints (name, position) VALUES (%s, 0) ON CONFLICT DO NOTHING",
            [self.checkpoint],
        )
        # From here the live projector waits for us, and finds its checkpoint moved afterwards.
        await conn.execute(
            "SELECT position FROM checkpoints WHERE name = %s FOR UPDATE", [self.checkpoint]
        )
        await self._build_within(conn)
        names = {t: await _index_names(conn, self.live, t) for t in self.projection.tables}
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(self.retired)))
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(self.retired)))
        for table in self.projection.tables:
            await conn.execute(
                sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                    _ident(self.live, table), _ident(self.retired)
                )
            )
            await conn.execute(
                sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                    _ident(self.schema, table), _ident(self.live)
                )
            )
        await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(_ident(self.retired)))
        await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(_ident(self.schema)))
        for table, old in names.items():
            await _restore_index_names(conn, self.live, table, old)
        # The tables are now what this code builds: a projector checking the version goes on.
        await conn.execute(
            "UPDATE checkpoints SET position = %s, version = %s, updated_at = now()"
            " WHERE name = %s",
            [self.position, self.projection.version, self.checkpoint],
        )
        # Everything up to here folded: what the live projection had skipped is no longer so.
        await conn.execute(
            "DELETE FROM projection_failures WHERE projection = %s AND position <= %s",
            [self.projection.name, self.position],
        )
        await conn.execute("SELECT pg_notify(%s, %s)", [PROJECTIONS_CHANNEL, str(self.position)])

    # ---- verify ---------------------------------------------------------------------------

    async def diff(self, ignore_columns: Sequence[str] = ()) -> list[Problem]:
        """Builds to where the live read model stands, then compares both in one snapshot."""
        await self.build(until=await self.live_position())
        async with self.pool.connection() as conn, conn.transaction():
            # One snapshot: the live tables exactly as of the checkpoint read with them.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            live_at = await self.live_position(conn)
            if live_at < self.position:
                return [
                    Problem(
                        check=self.projection.name,
                        detail=f"the read model went back to position {live_at} while being"
                        " checked (a rebuild or reset?); run verify again",
                    )
                ]
            await self._build_within(conn, until=live_at)
            problems: list[Problem] = []
            for table in self.projection.tables:
                problems += await self._diff_table(conn, table, ignore_columns)
        return problems

    async def _diff_table(
        self, conn: AsyncConnection[Any], table: str, ignore: Sequence[str]
    ) -> list[Problem]:
        cur = await conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [self.live, table],
        )
        columns = [r[0] for r in await cur.fetchall() if r[0] not in ignore]
        keys = await _primary_key(conn, self.live, table) or columns
        cols = sql.SQL(", ").join(_ident(c) for c in columns)
        live, shadow = _ident(self.live, table), _ident(self.schema, table)
        query = sql.SQL(
            "(SELECT 'read model', {c} FROM {l} EXCEPT ALL SELECT 'read model', {c} FROM {s})"
            " UNION ALL"
            " (SELECT 'log', {c} FROM {s} EXCEPT ALL SELECT 'log', {c} FROM {l})"
        ).format(c=cols, l=live, s=shadow)
        cur = await conn.execute(query)
        rows = await cur.fetchall()
        found: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
        for side, *values in rows:
            record = dict(zip(columns, values, strict=True))
            found.setdefault(tuple(record[k] for k in keys), {})[side] = record
        problems = []
        for key, sides in list(found.items())[:MAX_SHOWN]:
            key_text = ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
            if "log" not in sides:
                detail = "a row the log does not produce (extra in the read model)"
            elif "read model" not in sides:
                detail = "a row the log produces is missing from the read model"
            else:
                a, b = sides["read model"], sides["log"]
                changes = [d for c in columns for d in _differences(c, a[c], b[c])]
                detail = "differs from the log in " + "; ".join(changes)
            problems.append(
                Problem(
                    check=self.projection.name,
                    table=table,
                    key=key_text,
                    detail=f"{table} [{key_text}]: {detail}",
                )
            )
        if len(found) > MAX_SHOWN:
            problems.append(
                Problem(
                    check=self.projection.name,
                    table=table,
                    detail=f"{table}: {len(found) - MAX_SHOWN} more rows differ",
                )
            )
        return problems


def _differences(path: str, live: Any, log: Any) -> list[str]:
    """Where two values differ, down into JSON objects: `state.status (read model …, log …)`."""
    if live == log:
        return []
    if isinstance(live, dict) and isinstance(log, dict):
        return [
            d
            for key in sorted(live.keys() | log.keys(), key=str)
            for d in _differences(f"{path}.{key}", live.get(key), log.get(key))
        ]
    return [f"{path} (read model {_short(live)}, log {_short(log)})"]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _primary_key(conn: AsyncConnection[Any], schema: str, table: str) -> list[str]:
    cur = await conn.execute(
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)",
        [f'"{schema}"."{table}"'],
    )
    return [r[0] for r in await cur.fetchall()]


async def _index_names(conn: AsyncConnection[Any], schema: str, table: str) -> dict[str, str]:
    """Definition (without its name) -> index name, for every index of the table."""
    cur = await conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
        [schema, table],
    )
    return {_shape(definition): name for name, definition in await cur.fetchall()}


def _shape(definition: str) -> str:
    """`CREATE UNIQUE INDEX x ON s.t USING btree (a)` -> `UNIQUE USING btree (a)`."""
    unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
    return unique + "USING " + definition.split(" USING ", 1)[1]


async def _restore_index_names(
    conn: AsyncConnection[Any], schema: str, table: str, old: dict[str, str]
) -> None:
    """LIKE names copied indexes after their columns; give them back their migration names."""
    for shape, name in (await _index_names(conn, schema, table)).items():
        wanted = old.get(shape)
        if wanted is not None and wanted != name:
            await conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(_ident(schema, name), _ident(wanted))
            )
