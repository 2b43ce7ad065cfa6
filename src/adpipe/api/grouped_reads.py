"""Single-resource reads for concurrent requests, read together: one query for every request
waiting (GET /jobs/{id}, its scenes, a client, a campaign, an asset).

Each read is one short query, and at 16 concurrent clients the API spent more CPU in the
Postgres client (pool checkout, sending, waiting, decoding) than in anything else. Requests that
arrive while a query is in flight wait for the next one, which reads all of them at once (as a
group commit does for writes): the client cost is paid once per group, not once per request.

Read-your-writes holds: a request's documents come from a query that started after the request
arrived, so everything committed before it (the API's own writes, whose projections it awaited)
is seen.

Rows read are also kept, briefly, in a `ReadCache`: a client polling its job (the studio, a
script waiting for `completed`) is answered from memory until a read model moves. Any move
empties the whole cache: the projector's NOTIFY (any projection, any process), this process
learning that its own write is readable (before it answers that write), and a wait that saw a
job change. So after its own writes a client reads them, as before. A write through another API
process is seen once its NOTIFY arrives here (it is sent at the projector's commit, so it is
normally in before that process can even answer), and every row is re-read after `max_age`
regardless. Without a LISTEN connection nothing is cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from .reads import DOCUMENT

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Row = dict[str, Any]
Waiter = tuple[str, str, "asyncio.Future[Row | None]"]  # (id, user, its answer)
# One query reads at most this many rows; more waiting requests go in the next.
MAX_GROUP = 64
# The (id, user) pairs asked for, numbered: every query joins them to its table.
_ASKED = "unnest(%s::text[], %s::text[]) WITH ORDINALITY AS q(id, user_id, n)"


# Past this many rows the cache starts again empty: a bound, not an eviction policy. A job
# document is a few KiB (more with many scenes), so this holds the cache to some MiB.
MAX_CACHED = 2_000


class ReadCache:
    """Rows by (read, user, id), each valid for `max_age` seconds unless `forget` comes first.
    `usable()` says whether moves can be heard (the LISTEN connection is up)."""

    def __init__(self, max_age: float, usable: Callable[[], bool]) -> None:
        self.max_age = max_age
        self.usable = usable
        # Bumped by every forget: a row read by a query that began before it is not kept.
        self.epoch = 0
        self._rows: dict[tuple[str, str, str], tuple[float, Row]] = {}
        self.hits = 0  # the tests look

    def forget(self) -> None:
        self.epoch += 1
        self._rows = {}

    def get(self, key: tuple[str, str, str]) -> Row | None:
        kept = self._rows.get(key)
        if kept is None or time.monotonic() > kept[0] or not self.usable():
            return None
        self.hits += 1
        return kept[1]

    def keep(self, key: tuple[str, str, str], row: Row, epoch: int) -> None:
        if epoch != self.epoch or self.max_age <= 0 or not self.usable():
            return
        if len(self._rows) >= MAX_CACHED:
            self._rows = {}
        self._rows[key] = (time.monotonic() + self.max_age, row)


def _owned(table: str, columns: str) -> str:
    return (
        f"SELECT q.n, {columns} FROM {_ASKED}"
        f" JOIN {table} t ON t.id = q.id AND t.user_id = q.user_id"
    )


class GroupedRead:
    """A row of `table` by (user, id) (None: no such row of theirs), read in groups. `columns`
    may hold parameters, given in `params` (they come before the pairs)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        table: str,
        columns: str,
        params: list[Any] | None = None,
        *,
        cache: ReadCache | None = None,
        name: str = "",
    ) -> None:
        self.pool = pool
        self.cache = cache
        self.name = name or table
        self.query = _owned(table, columns)
        self.params = params or []
        self._waiting: list[Waiter] = []
        self._reader: asyncio.Task[None] | None = None
        self.queries = 0  # how many queries served how many reads: the tests look

    async def get(self, user: str, row_id: str) -> Row | None:
        """The row (shared with other requests: read it, never change it)."""
        if self.cache is not None:
            row = self.cache.get((self.name, user, row_id))
            if row is not None:
                return row
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row_id, user, future))
        if self._reader is None:
            # A task of its own: a request cancelled mid-query must not strand the others.
            self._reader = asyncio.create_task(self._read_all(), name="grouped-read")
        return await future

    async def _read_all(self) -> None:
        group: list[Waiter] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                group = [g for g in group if not g[2].done()]  # cancelled while waiting
                try:
                    rows = await self._read(group) if group else {}
                except Exception as exc:
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for n, (_, _, future) in enumerate(group, start=1):
                    if not future.done():
                        future.set_result(rows.get(n))
        except asyncio.CancelledError:  # closing: nobody will read for the ones waiting
            for _, _, future in [*group, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._reader = None

    async def _read(self, group: list[Waiter]) -> dict[int, Row]:
        self.queries += 1
        epoch = self.cache.epoch if self.cache is not None else 0
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                self.query, [*self.params, [g[0] for g in group], [g[1] for g in group]]
            )
            rows = {int(r["n"]): r for r in await cur.fetchall()}
        if self.cache is not None:
            for n, row in rows.items():
                row_id, user, _ = group[n - 1]
                self.cache.keep((self.name, user, row_id), row, epoch)
        return rows

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        # A reader cancelled before it ran never saw its waiters: they are cancelled here.
        for _, _, future in self._waiting:
            future.cancel()
        self._waiting = []


class Lookups:
    """The API's grouped single-resource reads, on its read pool."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], currency: str, cache: ReadCache | None = None
    ) -> None:
        # The job document as served, with what handlers decide on (see reads.DOCUMENT).
        self.jobs = GroupedRead(
            pool,
            "jobs",
            f"({DOCUMENT})::text AS document, t.status, t.pending",
            [currency],
            cache=cache,
        )
        self.scenes = GroupedRead(
            pool, "jobs", "(t.view -> 'scenes')::text AS scenes", cache=cache, name="scenes"
        )
        self.clients = GroupedRead(pool, "clients", "t.*", cache=cache)
        self.campaigns = GroupedRead(pool, "campaigns", "t.*", cache=cache)
        # The stored view as served (`document`), and the row for what handlers decide on.
        self.assets = GroupedRead(pool, "assets", "t.*, t.view::text AS document", cache=cache)

    async def close(self) -> None:
        for read in (self.jobs, self.scenes, self.clients, self.campaigns, self.assets):
            await read.close()
