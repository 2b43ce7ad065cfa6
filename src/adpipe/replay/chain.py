"""Integrity of the log: every stream's versions run 1..n and every event matches its hash.

Each event's hash is SHA-256 over the previous event's hash and its own canonical envelope, so an
edited event fails its own check, a deleted one leaves a version gap and breaks the next link,
and an inserted one breaks the link after it. Checking each link against the stored hash of the
event before it names exactly the event that was touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.events.catalogue import decode_event
from adpipe.storage.eventstore import chain_hash

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Progress = Callable[[int], None]


class Problem(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One difference `verify` found; `check` is "log" or the name of a read model."""

    check: str
    detail: str
    stream: str | None = None
    version: int | None = None
    position: int | None = None
    table: str | None = None
    key: str | None = None


class ChainReport(msgspec.Struct, kw_only=True):
    streams: int = 0
    events: int = 0
    problems: list[Problem] = msgspec.field(default_factory=list)


async def verify_chains(
    pool: AsyncConnectionPool[Any], *, progress: Progress | None = None, itersize: int = 5000
) -> ChainReport:
    """Walks the whole log stream by stream with bounded memory (a server-side cursor)."""
    report = ChainReport()
    stream, expected_version, prev_hash = None, 1, ""
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor(name="adpipe_verify_chain") as cur:
            cur.itersize = itersize
            await cur.execute(
                "SELECT position, id, stream, version, type, data::text, metadata::text,"
                " recorded_at, hash FROM events ORDER BY stream, version"
            )
            async for row in cur:
                position, event_id, row_stream, version, *_, stored = row
                if row_stream != stream:
                    stream, expected_version, prev_hash = row_stream, 1, ""
                    report.streams += 1
                report.events += 1
                if progress is not None and report.events % 1000 == 0:
                    progress(report.events)

                for detail in _link_problems(row, prev_hash, expected_version):
                    report.problems.append(
                        Problem(
                            check="log",
                            stream=row_stream,
                            version=version,
                            position=position,
                            detail=f"{row_stream} version {version} (position {position},"
                            f" event {event_id}): {detail}",
                        )
                    )
                prev_hash, expected_version = stored, version + 1
    if progress is not None:
        progress(report.events)
    return report


def _link_problems(row: tuple[Any, ...], prev_hash: str, expected_version: int) -> list[str]:
    """What is wrong with one event, given the stored hash of the one before it in its stream."""
    _, event_id, stream, version, event_type, data, meta, recorded_at, stored = row
    problems = []
    if version != expected_version:
        problems.append(
            f"versions {expected_version} to {version - 1} are missing (deleted?)"
            if version > expected_version
            else f"version {version} repeats or is out of order (inserted?)"
        )
    expected = chain_hash(
        prev_hash,
        event_id=str(event_id),
        stream=stream,
        version=version,
        event_type=event_type,
        data=json.loads(data),
        metadata=json.loads(meta),
        recorded_at=recorded_at,
    )
    if expected != stored:
        problems.append(
            "does not match its hash: it was edited (or the stored hash before it was)"
            if version == expected_version
            else "does not chain to the event before it"
        )
    try:
        decoded = decode_event(data)
    except msgspec.ValidationError as exc:
        problems.append(f"data is not a valid {event_type}: {exc}")
    else:
        if type(decoded).type_name() != event_type:
            problems.append(f"data is a {type(decoded).type_name()}, the row says {event_type}")
    return problems
