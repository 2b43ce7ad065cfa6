"""Helpers for replay tests (`from replay.kit import …`): fixture types and a bulk log writer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from adpipe.events.base import Event
from adpipe.events.catalogue import event_to_builtins
from adpipe.storage.eventstore import canonical_json, chain_hash

Replay = Callable[..., Awaitable[tuple[int, str, str]]]
CatchUp = Callable[[], Awaitable[None]]


async def bulk_append(
    conn: Any, streams: Iterable[tuple[str, list[Event]]], actor: str = "system:bulk"
) -> int:
    """Writes whole streams with COPY — fast, yet with real `chain_hash` links, so the log is
    exactly what appends would have left (verify passes). Streams are interleaved round-robin
    so positions mix as in a busy system. Answers how many events were written."""
    metadata = {"actor": actor}
    meta_json = canonical_json(metadata)
    start = datetime.now(UTC)
    pending = [(stream, iter(events), [0, ""]) for stream, events in streams]
    written = 0
    async with conn.cursor() as cur:
        async with cur.copy(
            "COPY events (id, stream, version, type, data, metadata, recorded_at, hash) FROM STDIN"
        ) as copy:
            while pending:
                still = []
                for stream, events, link in pending:
                    event = next(events, None)
                    if event is None:
                        continue
                    still.append((stream, events, link))
                    link[0] += 1
                    event_id = str(uuid.uuid4())
                    data = event_to_builtins(event)
                    at = start + timedelta(microseconds=written)
                    link[1] = chain_hash(
                        link[1],
                        event_id=event_id,
                        stream=stream,
                        version=link[0],
                        event_type=type(event).type_name(),
                        data=data,
                        metadata=metadata,
                        recorded_at=at,
                    )
                    await copy.write_row(
                        (
                            event_id,
                            stream,
                            link[0],
                            type(event).type_name(),
                            canonical_json(data),
                            meta_json,
                            at,
                            link[1],
                        )
                    )
                    written += 1
                pending = still
    return written
