"""Single-resource reads for concurrent requests, read together: one query for every request
waiting (GET /jobs/{id}, its scenes, a client, a campaign, an asset).

Each read is one short query, and at 16 concurrent clients the API spent more CPU in the
Postgres client (pool checkout, sending, waiting, decoding) than in anything else. Requests that
arrive while a query is in flight wait for the next one, which reads all of them at once (as a
group commit does for writes): the client cost is paid once per group, not once per request.

Read-your-writes holds: a request's documents come from a query that started after the request
arrived, so everything committed before it (the API's own writes, whose projections it awaited)
is seen.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    ) -> None:
        self.pool = pool
        self.query = _owned(table, columns)
        self.params = params or []
        self._waiting: list[Waiter] = []
        self._reader: asyncio.Task[None] | None = None
        self.queries = 0  # how many queries served how many reads: the tests look

    async def get(self, user: str, row_id: str) -> Row | None:
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
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                self.query, [*self.params, [g[0] for g in group], [g[1] for g in group]]
            )
            return {int(r["n"]): r for r in await cur.fetchall()}

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

    def __init__(self, pool: AsyncConnectionPool[Any], currency: str) -> None:
        # The job document as served, with what handlers decide on (see reads.DOCUMENT).
        self.jobs = GroupedRead(
            pool, "jobs", f"({DOCUMENT})::text AS document, t.status, t.pending", [currency]
        )
        self.scenes = GroupedRead(pool, "jobs", "(t.view -> 'scenes')::text AS scenes")
        self.clients = GroupedRead(pool, "clients", "t.*")
        self.campaigns = GroupedRead(pool, "campaigns", "t.*")
        self.assets = GroupedRead(pool, "assets", "t.*")

    async def close(self) -> None:
        for read in (self.jobs, self.scenes, self.clients, self.campaigns, self.assets):
            await read.close()
