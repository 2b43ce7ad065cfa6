"""Integrity of the log: every stream's versions run 1..n, and every event's link matches.

Each link is an HMAC (SHA-256 when no key was configured) over the previous event's link in its
stream, the previous event's link in the whole log, and the event's stored form (`storage/chain.py`
says why and what it protects against). Walking the log in global order, an edited event fails its
own check, an inserted one breaks the links after it, and a deleted one — or a deleted stream —
leaves the next event in the log pointing at a link that is gone. `verify` names the first
position and stream that disagree. Anchors pin a position's link outside the database, so a log
cut short before an anchor is seen as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.events.catalogue import decode_event
from adpipe.storage.chain import PLAIN, is_keyed, legacy_link, link, same, sign

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Progress = Callable[[int], None]


class Problem(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One difference `verify` found; `check` is "log", "anchor" or the name of a read model."""

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
    keyed: int = 0  # links checked with the chain key
    unkeyed: int = 0  # links anyone with write access could recompute (no key when written)
    problems: list[Problem] = msgspec.field(default_factory=list)


class Anchor(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A position's link, kept outside the database; signed with the chain key when there is
    one, so an anchor file edited to match a doctored log is seen too."""

    position: int
    event_id: str
    stream: str
    version: int
    link: str
    recorded_at: str
    signature: str | None = None

    def payload(self) -> dict[str, object]:
        return {
            "position": self.position,
            "eventId": self.event_id,
            "stream": self.stream,
            "version": self.version,
            "link": self.link,
            "recordedAt": self.recorded_at,
        }


class _Heads:
    """What the walk remembers: each stream's last version and link, and the log's last link."""

    def __init__(self) -> None:
        self.streams: dict[str, tuple[int, str]] = {}
        self.log = ""
        self.log_position = 0


async def make_anchor(pool: AsyncConnectionPool[Any], key: bytes | None) -> Anchor | None:
    """An anchor at the log's newest event; None for an empty log."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT position, id, stream, version, hash, recorded_at FROM events"
            " ORDER BY position DESC LIMIT 1"
        )
        row = await cur.fetchone()
    if row is None:
        return None
    anchor = Anchor(
        position=row[0],
        event_id=str(row[1]),
        stream=row[2],
        version=row[3],
        link=row[4],
        recorded_at=row[5].isoformat(),
    )
    if key is not None:
        anchor = msgspec.structs.replace(anchor, signature=sign(key, anchor.payload()))
    return anchor


async def verify_chains(
    pool: AsyncConnectionPool[Any],
    *,
    key: bytes | None = None,
    anchors: Sequence[Anchor] = (),
    unkeyed_until: int = 0,
    progress: Progress | None = None,
    itersize: int = 5000,
) -> ChainReport:
    """Walks the whole log in global order with a server-side cursor (memory: one entry per
    stream). With `key`, every link after position `unkeyed_until` must be keyed: an unkeyed
    one there was forged or appended without the key. Without it, keyed links cannot be
    checked, and each says so."""
    report = ChainReport()
    heads = _Heads()
    pinned = {a.position: a for a in anchors}
    report.problems += _anchor_signature_problems(anchors, key)
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor(name="adpipe_verify_chain") as cur:
            cur.itersize = itersize
            await cur.execute(
                "SELECT position, id, stream, version, type, data::text, metadata::text,"
                " recorded_at, hash FROM events ORDER BY position"
            )
            async for row in cur:
                position, event_id, stream, version, *_, stored = row
                if stream not in heads.streams:
                    report.streams += 1
                report.events += 1
                if progress is not None and report.events % 1000 == 0:
                    progress(report.events)
                details = _link_problems(row, heads, key, unkeyed_until, report)
                anchor = pinned.pop(position, None)
                if anchor is not None and not (
                    anchor.event_id == str(event_id) and same(anchor.link, stored)
                ):
                    details.append(
                        "differs from the exported anchor: the log was rewritten up to here"
                    )
                for detail in details:
                    report.problems.append(
                        Problem(
                            check="log",
                            stream=stream,
                            version=version,
                            position=position,
                            detail=f"position {position}, {stream} version {version}"
                            f" (event {event_id}): {detail}",
                        )
                    )
                heads.streams[stream] = (version, stored)
                heads.log, heads.log_position = stored, position
    for anchor in pinned.values():
        cut = " from its end" if anchor.position > heads.log_position else ""
        report.problems.append(
            Problem(
                check="log",
                stream=anchor.stream,
                version=anchor.version,
                position=anchor.position,
                detail=f"position {anchor.position} ({anchor.stream} version {anchor.version},"
                f" event {anchor.event_id}) is in the exported anchor but not in the log:"
                f" events were deleted{cut}",
            )
        )
    report.problems.sort(key=lambda p: p.position or 0)
    if progress is not None:
        progress(report.events)
    return report


def _anchor_signature_problems(anchors: Sequence[Anchor], key: bytes | None) -> list[Problem]:
    problems = []
    for anchor in anchors:
        if key is None or anchor.signature is None:
            continue
        if not same(anchor.signature, sign(key, anchor.payload())):
            problems.append(
                Problem(
                    check="anchor",
                    position=anchor.position,
                    detail=f"the anchor at position {anchor.position} is not signed by this"
                    " chain key: it was edited, or comes from another deployment",
                )
            )
    return problems


def _link_problems(
    row: tuple[Any, ...],
    heads: _Heads,
    key: bytes | None,
    unkeyed_until: int,
    report: ChainReport,
) -> list[str]:
    """What is wrong with one event, given the links of the events before it."""
    position, event_id, stream, version, event_type, data, meta, recorded_at, stored = row
    last_version, prev_in_stream = heads.streams.get(stream, (0, ""))
    expected_version = last_version + 1
    problems = []
    if version != expected_version:
        problems.append(
            f"versions {expected_version} to {version - 1} are missing (deleted?)"
            if version > expected_version
            else f"version {version} repeats or is out of order (inserted?)"
        )
    fields: dict[str, Any] = {
        "event_id": str(event_id),
        "stream": stream,
        "version": version,
        "event_type": event_type,
        "data_text": data,
        "metadata_text": meta,
        "recorded_at": recorded_at,
    }
    if is_keyed(stored):
        report.keyed += 1
        if key is None:
            problems.append("is keyed, and no chain key was given to check it")
        elif not same(link(key, prev_in_stream, heads.log, **fields), stored):
            problems.append(_mismatch(heads, position, version, expected_version))
    else:
        report.unkeyed += 1
        if key is not None and position > unkeyed_until:
            problems.append(
                "is not keyed although the chain key is in use: it was forged by someone"
                " without the key, or appended by a process that was not given it"
            )
        elif stored.startswith(PLAIN):
            if not same(link(None, prev_in_stream, heads.log, **fields), stored):
                problems.append(_mismatch(heads, position, version, expected_version))
        elif legacy_link(prev_in_stream, **fields) != stored:
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


def _mismatch(heads: _Heads, position: int, version: int, expected_version: int) -> str:
    if version != expected_version:
        return "does not chain to the event before it in its stream"
    if heads.log_position and position != heads.log_position + 1:
        # A position can be skipped by an append that rolled back; whether an event was
        # deleted there is what the link tells.
        return (
            f"does not chain to the event before it in the log (position {heads.log_position}):"
            " it was edited, or events between were deleted"
        )
    return "does not match its hash: it was edited (or the event before it was)"
