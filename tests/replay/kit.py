"""Helpers for replay tests (`from replay.kit import …`): fixture types and a bulk log writer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from adpipe.events.base import Event
from adpipe.events.catalogue import event_to_builtins
from adpipe.storage.chain import canonical_json, link

Replay = Callable[..., Awaitable[tuple[int, str, str]]]
CatchUp = Callable[[], Awaitable[None]]


async def bulk_append(
    conn: Any, streams: Iterable[tuple[str, list[Event]]], actor: str = "system:bulk"
) -> int:
    """Writes whole streams with COPY — fast, yet with real (unkeyed) chain links, so the log is
    exactly what appends would have left (verify passes). Streams are interleaved round-robin
    so positions mix as in a busy system. Answers how many events were written."""
    metadata = {"actor": actor}
    meta_json = canonical_json(metadata)
    start = datetime.now(UTC)
    pending = [(stream, iter(events), [0, ""]) for stream, events in streams]
    written = 0
    cur = await conn.execute("SELECT hash FROM events ORDER BY position DESC LIMIT 1")
    head = await cur.fetchone()
    prev_in_log = head[0] if head else ""
    async with conn.cursor() as cur:
        async with cur.copy(
            "COPY events (id, stream, version, type, data, metadata, recorded_at, hash) FROM STDIN"
        ) as copy:
            while pending:
                still = []
                for stream, events, heads in pending:
                    event = next(events, None)
                    if event is None:
                        continue
                    still.append((stream, events, heads))
                    heads[0] += 1
                    event_id = str(uuid.uuid4())
                    # These events' numbers survive jsonb unchanged, so our JSON hashes as stored.
                    data = canonical_json(event_to_builtins(event))
                    at = start + timedelta(microseconds=written)
                    heads[1] = prev_in_log = link(
                        None,
                        heads[1],
                        prev_in_log,
                        event_id=event_id,
                        stream=stream,
                        version=heads[0],
                        event_type=type(event).type_name(),
                        data_text=data,
                        metadata_text=meta_json,
                        recorded_at=at,
                    )
                    await copy.write_row(
                        (
                            event_id,
                            stream,
                            heads[0],
                            type(event).type_name(),
                            data,
                            meta_json,
                            at,
                            heads[1],
                        )
                    )
                    written += 1
                pending = still
    return written
