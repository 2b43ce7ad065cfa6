"""`adpipe replay export`: the log as JSONL, one envelope per line, streamed with bounded memory."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from adpipe.events.catalogue import encode
from adpipe.storage.eventstore import envelope_from_row

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool


async def export_jsonl(
    pool: AsyncConnectionPool[Any],
    out: TextIO,
    *,
    since: int | datetime | None = None,
    streams: list[str] | None = None,
    itersize: int = 2000,
) -> int:
    """Writes envelopes in global order after `since` (a position, or a time); answers the count."""
    where: list[str] = ["true"]
    params: list[Any] = []
    if isinstance(since, int):
        where.append("position > %s")
        params.append(since)
    elif since is not None:
        where.append("recorded_at > %s")
        params.append(since)
    if streams:
        where.append("stream = ANY(%s)")
        params.append(streams)
    count = 0
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor(name="adpipe_export") as cur:
            cur.itersize = itersize
            await cur.execute(
                "SELECT position, id, stream, version, type, data::text, metadata::text,"
                f" recorded_at, hash FROM events WHERE {' AND '.join(where)} ORDER BY position",
                params,
            )
            async for row in cur:
                out.write(encode(envelope_from_row(row)).decode())
                out.write("\n")
                count += 1
    out.flush()
    return count
