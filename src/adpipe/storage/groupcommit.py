"""Group commit: the appends one process makes at once are written in one transaction.

`EventStore.append` queues its command here; one writer task per store takes the events table lock
once, decides every queued command against the log as it stands *within the batch* (expected
version, guards, duplicate ids — each command's own answer, one command's conflict never fails
another), links the accepted events into the chain in the order they are inserted, writes them
with one INSERT, commits, and answers each caller.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
import psycopg
from psycopg import sql

from adpipe.domain.guards import NoneSince
from adpipe.errors import Conflict, DependencyUnavailable, StreamVersionConflict
from adpipe.events.catalogue import Envelope, Metadata, NewEvent, decode_event
from adpipe.observability.metrics import EVENTS_APPENDED

from .chain import canonical_json, canonical_stored, link_canonical, stored_as_written

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

ANY: Final = "any"
ExpectedVersion = int | Literal["any"]
NOTIFY_CHANNEL: Final = "adpipe_events"
COLUMNS: Final = (
    "position, id, stream, version, type, data::text, metadata::text, recorded_at, hash"
)
# See `_write` for why every batch takes it.
LOCK_EVENTS: Final = "LOCK TABLE events IN EXCLUSIVE MODE"
# A batch stops growing here: a bigger one holds the lock (and its callers) longer for little gain.
MAX_BATCH_COMMANDS: Final = 128
MAX_BATCH_EVENTS: Final = 2000

_metadata_decoder = msgspec.json.Decoder(Metadata)


class GuardFailed(Conflict):
    """An append's guard did not hold: what the caller decided on has changed (409)."""


def envelope_from_row(row: Sequence[Any]) -> Envelope:
    position, event_id, stream, version, event_type, data, metadata, recorded_at, hash_ = row
    return Envelope(
        id=str(event_id),
        stream=stream,
        version=version,
        position=position,
        type=event_type,
        data=decode_event(data),
        metadata=_metadata_decoder.decode(metadata),
        recorded_at=recorded_at,
        hash=hash_,
    )


def transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        psycopg.errors.LockNotAvailable
        | psycopg.errors.SerializationFailure
        | psycopg.errors.DeadlockDetected
        | psycopg.OperationalError,
    )


def _guard_query(guard: NoneSince) -> tuple[str, list[Any]]:
    """A query answering one row whose first column is true when `guard` holds in the log."""
    query = "SELECT NOT EXISTS (SELECT 1 FROM events WHERE position > %s AND type = ANY(%s)"
    params: list[Any] = [guard.position, list(guard.types)]
    if guard.stream is not None:
        query += " AND stream = %s"
        params.append(guard.stream)
    if guard.matching is not None:
        query += " AND data @> %s::jsonb"
        params.append(canonical_json(guard.matching))
    return query + ")", params


@dataclass(eq=False)
class Command:
    """One caller's append, waiting for its batch."""

    stream: str
    batch: list[NewEvent]
    expected: ExpectedVersion
    guards: Sequence[NoneSince]
    meta_json: str
    # The metadata's canonical text is already its stored form (see `stored_as_written`).
    meta_plain: bool = False
    # Appends queued before this one that must have been written (or found already recorded)
    # for this one to be: it follows them in the log, in their batch or a later one.
    follows: Sequence[asyncio.Future[list[Envelope]]] = ()
    ids: list[uuid.UUID] = field(init=False)
    id_texts: list[str] = field(init=False)  # normalised, as Postgres prints them
    datas: list[str] = field(init=False)
    types: list[str] = field(init=False)
    future: asyncio.Future[list[Envelope]] = field(init=False)
    # The canonical forms of the metadata and of each event's data as stored (see `prepare`).
    canon: tuple[str, list[str]] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.ids = [uuid.UUID(e.id) for e in self.batch]
        self.id_texts = [str(i) for i in self.ids]
        values = [msgspec.to_builtins(new.event) for new in self.batch]
        self.datas = [canonical_json(value) for value in values]
        self.types = [type(new.event).type_name() for new in self.batch]
        self.future = asyncio.get_running_loop().create_future()
        if self.meta_plain and all(stored_as_written(value) for value in values):
            # What the chain hashes is known without asking Postgres how jsonb stores it.
            self.canon = (self.meta_json, self.datas)


def command(
    stream: str,
    events: Sequence[NewEvent],
    expected: ExpectedVersion,
    metadata: Metadata,
    guards: Sequence[NoneSince],
    follows: Sequence[asyncio.Future[list[Envelope]]] = (),
) -> Command:
    meta = msgspec.to_builtins(metadata)
    return Command(
        stream,
        list(events),
        expected,
        guards,
        canonical_json(meta),
        stored_as_written(meta),
        follows,
    )


class GroupCommit:
    """The queue of one process's appends and the task that writes them, a batch at a time.

    The task is started by the first append that finds none running and ends when the queue is
    empty, so it needs no start or stop: its owner is the store, and every caller awaits it
    through its own command's future.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        *,
        chain_key: bytes | None,
        lock_timeout_ms: int,
        transient_retries: int,
        before_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        self._chain_key = chain_key
        self._lock_timeout = sql.SQL("SET LOCAL lock_timeout = {}").format(
            sql.Literal(f"{int(lock_timeout_ms)}ms")
        )
        self._transient_retries = transient_retries
        # A test's hook, awaited inside each batch's transaction just before it commits: holding
        # it open shows that readers never skip an append that commits late.
        self._before_commit = before_commit
        self._queue: list[Command] = []
        self._writer: asyncio.Task[None] | None = None

    def enqueue(self, cmd: Command) -> asyncio.Future[list[Envelope]]:
        """Queues `cmd` without waiting: what it answers is its future. Queued appends are
        written in the order they were queued."""
        busy = self._writing()
        self._queue.append(cmd)  # first come, first written
        if not busy:
            self._writer = asyncio.create_task(self._drain(), name="eventstore-group-commit")
        return cmd.future

    async def submit(self, cmd: Command) -> list[Envelope]:
        busy = self._writing()
        self.enqueue(cmd)
        if busy and cmd.canon is None:
            # While the batch in flight holds the lock, work out what the chain will hash, so
            # the batch this command joins spends its time under the lock on the lock's work.
            await self._prepare(cmd)
        return await cmd.future

    def _writing(self) -> bool:
        """Whether the writer task runs; it looks at the queue again before it ends."""
        writer = self._writer
        return not (
            writer is None or writer.done() or writer.get_loop() is not asyncio.get_running_loop()
        )

    async def _prepare(self, cmd: Command) -> None:
        """Fills `cmd.canon`: Postgres's jsonb forms of the texts (numbers normalised as it
        stores them), canonicalised. Nothing here depends on the log; on any error the writer
        does it instead, and answers the error if it persists."""
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT d::jsonb::text FROM unnest(%b::text[]) WITH ORDINALITY AS u(d, n)"
                    " ORDER BY n",
                    [[cmd.meta_json, *cmd.datas]],
                )
                stored = [str(row[0]) for row in await cur.fetchall()]
        except psycopg.Error:
            return
        if cmd.canon is None:  # else the writer took it first and did this itself
            cmd.canon = (canonical_stored(stored[0]), [canonical_stored(t) for t in stored[1:]])

    async def _drain(self) -> None:
        batch: list[Command] = []
        try:
            while self._queue:
                batch = self._take()
                if batch:
                    await self._write_batch(batch)
        except BaseException:  # cancelled (the loop is closing): nobody is left to write these
            for cmd in [*batch, *self._queue]:
                cmd.future.cancel()
            self._queue.clear()
            raise

    def _take(self) -> list[Command]:
        batch: list[Command] = []
        events = 0
        while self._queue:
            cmd = self._queue[0]
            if batch and (
                len(batch) >= MAX_BATCH_COMMANDS or events + len(cmd.batch) > MAX_BATCH_EVENTS
            ):
                break
            self._queue.pop(0)
            if cmd.future.done():  # its caller was cancelled before it was written: drop it
                continue
            batch.append(cmd)
            events += len(cmd.batch)
        return batch

    async def _write_batch(self, batch: list[Command]) -> None:
        """Writes `batch`, retrying transient errors; a batch that fails otherwise is retried a
        command at a time, so only the command at fault gets the error."""
        for attempt in range(self._transient_retries + 1):
            try:
                answers = await self._write(batch)
            except Exception as exc:
                if transient(exc) and attempt < self._transient_retries:
                    await asyncio.sleep(0.05 * 2**attempt)
                    continue
                if len(batch) > 1 and not transient(exc):
                    for cmd in batch:
                        await self._write_batch([cmd])
                    return
                if isinstance(exc, psycopg.OperationalError):
                    exc = DependencyUnavailable(f"the event store is unavailable: {exc}")
                for cmd in batch:
                    _answer(cmd, exc)
                return
            for cmd, answer in zip(batch, answers, strict=True):
                _answer(cmd, answer)
            return

    async def _write(self, batch: list[Command]) -> list[list[Envelope] | BaseException]:
        pairs = _containment_pairs(batch)
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            # Pipelined: the lock, the duplicate check, the heads of the streams and of the log,
            # the guards and the stored (jsonb-normalised) forms the chain hashes: one round trip.
            await conn.execute(self._lock_timeout)
            # Why EXCLUSIVE: positions come from an identity sequence, and two transactions
            # could otherwise commit out of position order — a reader at position N would then
            # skip the late N-1 forever. EXCLUSIVE blocks other appends (not readers) until we
            # commit, so insert order is commit order and the log has no holes to skip. It also
            # gives every event one predecessor in the whole log, which the chain links to, and
            # keeps what the guards read unchanged until we commit. Bounded by lock_timeout; a
            # timeout is transient and retried. (tests/core/test_late_commits.py holds a batch
            # open here while others try to commit, and shows a reader skipping it without.)
            #
            # Why not commit concurrently and read only below the snapshot's xmin (every
            # transaction older than `pg_snapshot_xmin(pg_current_snapshot())` has ended, so a
            # log ordered by (xid, position) below it is final)? Readers would be safe, but:
            # each link needs the log's previous link when it is computed, which only a writer
            # holding the log's head knows; the guards (a client deleted while a campaign is
            # created under it) would need SERIALIZABLE and its retries instead of a read under
            # the lock; and every reader — the API's read-your-writes wait included — would
            # stall behind the oldest transaction with an xid anywhere in the database (a long
            # blob upload), not behind appends. Linking after commit (a single linker, say the
            # relay, reading by xid) would make the chain a second write per event and leave the
            # newest events unprotected until linked.
            #
            # So appends stay serialised, and the serialised step is made short instead: a
            # process's concurrent appends share one transaction (what serialising costs is paid
            # per transaction: the lock, the round trip, the commit's WAL flush — one fsync per
            # batch, with synchronous_commit left on, so an acknowledged event is durable);
            # everything that does not need the log's head (canonical forms, the insert's
            # parameters) is done before the lock, and what does is one pipelined round trip.
            # Other processes' batches queue on the lock for about that long each.
            await conn.execute(LOCK_EVENTS)
            unprepared = [c for c in batch if c.canon is None]
            stored_cur = None
            if unprepared:
                stored_cur = await conn.execute(
                    "SELECT d::jsonb::text FROM unnest(%b::text[]) WITH ORDINALITY AS u(d, n)"
                    " ORDER BY n",
                    [[t for c in unprepared for t in (c.meta_json, *c.datas)]],
                )
            dup_cur = await conn.execute(
                f"SELECT {COLUMNS} FROM events WHERE id = ANY(%s) ORDER BY position",
                [[i for cmd in batch for i in cmd.ids]],
            )
            head_cur = await conn.execute(
                "SELECT s.stream, h.version, h.hash FROM unnest(%s::text[]) AS s(stream)"
                " JOIN LATERAL (SELECT version, hash FROM events e WHERE e.stream = s.stream"
                " ORDER BY version DESC LIMIT 1) h ON true",
                [list({cmd.stream: None for cmd in batch})],
            )
            log_head_cur = await conn.execute(
                "SELECT hash FROM events ORDER BY position DESC LIMIT 1"
            )
            guard_curs = [[await conn.execute(*_guard_query(g)) for g in c.guards] for c in batch]
            pairs_cur = None
            if pairs:
                pairs_cur = await conn.execute(
                    "SELECT d::jsonb @> m::jsonb FROM unnest(%b::text[], %b::text[])"
                    " WITH ORDINALITY AS u(d, m, n) ORDER BY n",
                    [
                        [batch[i].datas[e] for _, _, i, e in pairs],
                        [canonical_json(batch[j].guards[g].matching) for j, g, _, _ in pairs],
                    ],
                )
            stored = iter(
                [] if stored_cur is None else [str(r[0]) for r in await stored_cur.fetchall()]
            )
            for c in unprepared:
                meta = canonical_stored(next(stored))
                c.canon = (meta, [canonical_stored(next(stored)) for _ in c.datas])
            log = _Log(
                existing=await dup_cur.fetchall(),
                heads={str(r[0]): (int(r[1]), str(r[2])) for r in await head_cur.fetchall()},
                head=str(row[0]) if (row := await log_head_cur.fetchone()) else "",
                held=[[bool((await c.fetchone() or (False,))[0]) for c in cs] for cs in guard_curs],
                contained=set()
                if pairs_cur is None
                else {p for p, r in zip(pairs, await pairs_cur.fetchall(), strict=True) if r[0]},
            )
            outcomes, accepted = _decide(batch, log, self._chain_key)
            if not accepted:
                return [_final(o) for o in outcomes]
            insert = await conn.execute(
                "INSERT INTO events (id, stream, version, type, data, metadata, recorded_at,"
                " hash) SELECT i, s, v, t, d, m, %s, h FROM unnest(%b::uuid[], %b::text[],"
                " %b::int[], %b::text[], %b::text[]::jsonb[], %b::text[]::jsonb[], %b::text[])"
                " WITH ORDINALITY AS u(i, s, v, t, d, m, h, n) ORDER BY n"
                " RETURNING id, position",
                _insert_params(accepted),
            )
            # Delivered at commit; it only wakes readers, who re-read from their checkpoint.
            await conn.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
            rows = None
            if self._before_commit is not None:
                rows = await insert.fetchall()  # flushed: the positions are taken; hold it open
                await self._before_commit()
        # Otherwise read after the commit, which went out in the same round trip as the INSERT.
        rows = await insert.fetchall() if rows is None else rows
        positions = {row[0]: int(row[1]) for row in rows}
        for acc in accepted:
            acc.fill(positions)
            for event_type in acc.cmd.types:  # committed (an idempotent repeat is not counted)
                EVENTS_APPENDED.labels(event_type).inc()
        return [_final(o) for o in outcomes]


@dataclass
class _Log:
    """What the batch's reads found, before any of it is written."""

    existing: list[Any]  # rows of events already recorded with one of the batch's ids
    heads: dict[str, tuple[int, str]]  # stream -> (version, link) of its last event
    head: str  # the link of the last event in the log
    held: list[list[bool]]  # per command, per guard: it holds in the log
    contained: set[tuple[int, int, int, int]]  # (command, guard, earlier command, event) pairs


@dataclass
class _Accepted:
    """A command the batch writes; its envelopes once the INSERT answered their positions."""

    cmd: Command
    first_version: int
    links: list[str]
    recorded_at: datetime
    envelopes: list[Envelope] = field(default_factory=list)

    def fill(self, positions: dict[uuid.UUID, int]) -> None:
        assert self.cmd.canon is not None
        meta_text, data_texts = self.cmd.canon
        metadata = _metadata_decoder.decode(meta_text)
        ids = self.cmd.ids
        self.envelopes = [
            Envelope(
                id=event_id,
                stream=self.cmd.stream,
                version=self.first_version + n,
                position=positions[ids[n]],
                type=event_type,
                data=decode_event(data_text),
                metadata=metadata,
                recorded_at=self.recorded_at,
                hash=link_,
            )
            for n, (event_id, event_type, data_text, link_) in enumerate(
                zip(self.cmd.id_texts, self.cmd.types, data_texts, self.links, strict=True)
            )
        ]


# What one command comes to: envelopes already recorded (a retry), an error, the command the
# batch writes, or (a 1-tuple) the earlier command in the batch that it repeats.
_Outcome = list[Envelope] | BaseException | _Accepted | tuple[_Accepted]


def _final(outcome: _Outcome) -> list[Envelope] | BaseException:
    if isinstance(outcome, _Accepted):
        return outcome.envelopes
    if isinstance(outcome, tuple):
        return outcome[0].envelopes
    return outcome


def _containment_pairs(batch: list[Command]) -> list[tuple[int, int, int, int]]:
    """(command, guard, earlier command, event): the events earlier in the batch whose type and
    stream would trip a later command's guard if their data contains the guard's `matching` —
    which Postgres decides, so jsonb containment means exactly what it means in the log."""
    pairs = []
    for j, cmd in enumerate(batch):
        for g, guard in enumerate(cmd.guards):
            if guard.matching is None:
                continue
            for i in range(j):
                earlier = batch[i]
                if guard.stream is not None and guard.stream != earlier.stream:
                    continue
                pairs += [(j, g, i, e) for e, t in enumerate(earlier.types) if t in guard.types]
    return pairs


def _trips(log: _Log, batch: list[Command], j: int, g: int, i: int) -> bool:
    """Whether earlier command `i`'s events trip guard `g` of command `j`. Every event the batch
    writes comes after any position a guard names (those are of events already committed)."""
    guard, earlier = batch[j].guards[g], batch[i]
    if guard.stream is not None and guard.stream != earlier.stream:
        return False
    return any(
        t in guard.types and (guard.matching is None or (j, g, i, e) in log.contained)
        for e, t in enumerate(earlier.types)
    )


def _decide(
    batch: list[Command], log: _Log, key: bytes | None
) -> tuple[list[_Outcome], list[_Accepted]]:
    """Each command in turn against the log as the earlier accepted ones leave it; links the
    accepted events in the order they will be inserted."""
    recorded_at = datetime.now(UTC)
    existing = {row[1]: row for row in log.existing}
    heads = dict(log.heads)
    prev_in_log = log.head
    claimed: dict[uuid.UUID, int] = {}  # event id -> index of the accepted command writing it
    accepted: dict[int, _Accepted] = {}
    outcomes: list[_Outcome] = []
    for j, cmd in enumerate(batch):
        assert cmd.canon is not None
        meta_canonical, data_canonical = cmd.canon
        refusal = _refusal(cmd, j, batch, log, existing, claimed, accepted, heads, outcomes)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        current, prev_in_stream = heads.get(cmd.stream, (0, ""))
        links = []
        for n, (event_id, event_type, text) in enumerate(
            zip(cmd.id_texts, cmd.types, data_canonical, strict=True), start=1
        ):
            prev_in_stream = prev_in_log = link_canonical(
                key,
                prev_in_stream,
                prev_in_log,
                event_id=event_id,
                stream=cmd.stream,
                version=current + n,
                event_type=event_type,
                data_canonical=text,
                metadata_canonical=meta_canonical,
                recorded_at=recorded_at,
            )
            links.append(prev_in_stream)
        claimed.update(dict.fromkeys(cmd.ids, j))
        heads[cmd.stream] = (current + len(cmd.ids), prev_in_stream)
        accepted[j] = _Accepted(cmd, current + 1, links, recorded_at)
        outcomes.append(accepted[j])
    return outcomes, list(accepted.values())


def _refusal(
    cmd: Command,
    j: int,
    batch: list[Command],
    log: _Log,
    existing: dict[uuid.UUID, Any],
    claimed: dict[uuid.UUID, int],
    accepted: dict[int, _Accepted],
    heads: dict[str, tuple[int, str]],
    outcomes: list[_Outcome],
) -> _Outcome | None:
    """Why command `j` is not written — a repeat of recorded events (their envelopes), a
    conflict, an append it follows not written — or None when it is."""
    for earlier in cmd.follows:
        failed = _failure(earlier, batch, outcomes)
        if failed is not None:
            return Conflict(f"not written, since an append it follows was not: {failed}")
    recorded = [existing[i] for i in cmd.ids if i in existing]
    if recorded:
        if len(recorded) == len(cmd.ids) and all(r[2] == cmd.stream for r in recorded):
            return sorted((envelope_from_row(r) for r in recorded), key=lambda e: e.version)
        return Conflict(f"event ids already recorded elsewhere: {[str(r[1]) for r in recorded]}")
    owners = {claimed[i] for i in cmd.ids if i in claimed}
    if owners:  # repeats ids another command in this batch writes: a retry racing its original
        owner = batch[min(owners)]
        if owners == {min(owners)} and owner.ids == cmd.ids and owner.stream == cmd.stream:
            return (accepted[min(owners)],)
        ids = [str(i) for i in cmd.ids if i in claimed]
        return Conflict(f"event ids already recorded elsewhere: {ids}")
    current = heads.get(cmd.stream, (0, ""))[0]
    if cmd.expected != ANY and cmd.expected != current:
        return StreamVersionConflict(cmd.stream, cmd.expected, current)
    for g, guard in enumerate(cmd.guards):
        if not log.held[j][g] or any(_trips(log, batch, j, g, i) for i in accepted):
            return GuardFailed(guard.reason)
    return None


def _failure(
    earlier: asyncio.Future[list[Envelope]], batch: list[Command], outcomes: list[_Outcome]
) -> BaseException | str | None:
    """What became of an append queued before: None if it was written or already recorded.
    Not yet answered, it is earlier in this batch (the queue is written in order)."""
    if earlier.done():
        return "cancelled" if earlier.cancelled() else earlier.exception()
    for cmd, outcome in zip(batch, outcomes, strict=False):
        if cmd.future is earlier:
            return outcome if isinstance(outcome, BaseException) else None
    return "not queued before it"


def _insert_params(accepted: list[_Accepted]) -> list[Any]:
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
    for acc in accepted:
        cmd = acc.cmd
        for n, (event_id, event_type, data, link_) in enumerate(
            zip(cmd.ids, cmd.types, cmd.datas, acc.links, strict=True)
        ):
            row = (event_id, cmd.stream, acc.first_version + n, event_type, data, cmd.meta_json)
            for column, value in zip(columns, (*row, link_), strict=True):
                column.append(value)
    return [accepted[0].recorded_at, *columns]


def _answer(cmd: Command, answer: list[Envelope] | BaseException) -> None:
    if cmd.future.done():  # its caller is gone (cancelled); what was written stays written
        return
    if isinstance(answer, BaseException):
        cmd.future.set_exception(answer)
    else:
        cmd.future.set_result(answer)
