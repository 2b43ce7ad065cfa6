"""/api/v3/jobs/{id}/events (server-sent events, live) and /api/v3/jobs/{id}/history (JSON pages).

Each SSE message's `id:` is the event's global position: a client reconnecting with
`Last-Event-ID` gets exactly what came after it. The stream closes after the job's last event, or
within a heartbeat of its API key being revoked. New events reach open streams through the
process's `LiveHub` (one read of the log per wake-up for all of them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from litestar import Request, Router, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from adpipe.errors import NotFound, ValidationFailed
from adpipe.events.catalogue import Envelope, encode, stream_id
from adpipe.storage.eventstore import envelope_from_row

from .errors import problem_specs
from .fields import PageNumber, PageSize
from .state import ApiState
from .views import Page

FINAL_TYPES: Final = frozenset({"job.render_completed", "job.failed", "job.cancelled"})
_COLUMNS = "position, id, stream, version, type, data::text, metadata::text, recorded_at, hash"

# A plain int (0: from the start): litestar drops the bounds of `int | None` from the schema.
AfterPosition = Annotated[
    int,
    Parameter(
        query="after",
        ge=0,
        description="Only events after this global position (like the Last-Event-ID header)",
    ),
]


class HistoryPage(Page, frozen=True, kw_only=True):
    """The job's events, oldest first (a history reads forwards)."""

    items: list[Envelope]


async def _check_owner(api: ApiState, user: str, job_id: str) -> str:
    """The job's stream, if the job is the user's; otherwise NotFound (never 403)."""
    stream = stream_id("job", job_id)
    async with api.core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT data->>'userId' FROM events WHERE stream = %s AND version = 1", [stream]
        )
        row = await cur.fetchone()
    if row is None or row[0] != user:
        raise NotFound(f"job {job_id} does not exist")
    return stream


async def _events_after(api: ApiState, stream: str, position: int) -> list[Envelope]:
    async with api.core.pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE stream = %s AND position > %s"
            " ORDER BY position LIMIT 500",
            [stream, position],
        )
        return [envelope_from_row(r) for r in await cur.fetchall()]


async def _last_event(api: ApiState, stream: str) -> tuple[int, str]:
    """(position, type) of the job's latest event."""
    async with api.core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT position, type FROM events WHERE stream = %s ORDER BY version DESC LIMIT 1",
            [stream],
        )
        row = await cur.fetchone()
    assert row is not None  # the job exists: its owner was checked
    return int(row[0]), str(row[1])


def _resume_from(request: Request[Any, Any, Any], after: int) -> int:
    header = request.headers.get("last-event-id", "").strip()
    if not header:
        return after or 0
    if not header.isdigit():
        raise ValidationFailed(
            "Last-Event-ID must be the id of an event this stream sent (a position)",
            [{"field": "Last-Event-ID", "message": "must be a non-negative integer"}],
        )
    return int(header)


async def _follow(
    api: ApiState, stream: str, after: int, token: str
) -> AsyncIterator[ServerSentEventMessage]:
    """Past events, then new ones as they are appended; ends after the job's final event."""
    heartbeat = api.settings.sse_heartbeat_seconds
    async with api.live.watch(stream, token) as watch:
        # The past is read after the watch is registered: whatever commits from now on
        # reaches the queue, so nothing falls between the two (duplicates are skipped below).
        while batch := await _events_after(api, stream, after):
            for envelope in batch:
                after = envelope.position
                yield _message(envelope)
                if envelope.type in FINAL_TYPES:
                    return
        if after and (await _last_event(api, stream))[1] in FINAL_TYPES:
            return  # resumed after the end: nothing more will come
        last_sent = time.monotonic()
        while True:
            try:
                async with asyncio.timeout(max(0.01, heartbeat - (time.monotonic() - last_sent))):
                    new = await watch.queue.get()
            except TimeoutError:
                last_sent = time.monotonic()
                yield ServerSentEventMessage(comment="heartbeat", data=None)
                continue
            if new is None:
                return  # the key was revoked
            if new.position <= after:
                continue  # already sent from the past
            after = new.position
            last_sent = time.monotonic()
            yield _message(new)
            if new.type in FINAL_TYPES:
                return


def _message(envelope: Envelope) -> ServerSentEventMessage:
    return ServerSentEventMessage(
        id=envelope.position, event=envelope.type, data=encode(envelope).decode()
    )


@get(
    "/{job_id:str}/events",
    summary="The job's events as server-sent events: its past, then live until it ends",
    media_type="text/event-stream",
    responses=problem_specs(404, 422),
)
async def job_events(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    job_id: str,
    after: AfterPosition = 0,
) -> ServerSentEvent:
    stream = await _check_owner(api, user, job_id)
    start = _resume_from(request, after)
    token = request.auth
    assert isinstance(token, str)
    # The cap is checked here, before the answer starts, so a refused stream is a plain 429.
    api.live.check_capacity(token)
    return ServerSentEvent(_follow(api, stream, start, token))


@get(
    "/{job_id:str}/history",
    summary="The job's events as JSON, oldest first",
    responses=problem_specs(404, 422),
)
async def job_history(
    api: ApiState, user: str, job_id: str, page: PageNumber = 1, page_size: PageSize = 50
) -> HistoryPage:
    stream = await _check_owner(api, user, job_id)
    # Versions run 1..n without gaps, so a page is a version range.
    first = (page - 1) * page_size
    async with api.core.pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE stream = %s AND version > %s AND version <= %s"
            " ORDER BY version",
            [stream, first, first + page_size],
        )
        rows = await cur.fetchall()
        count = await conn.execute(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream = %s", [stream]
        )
        total = int((await count.fetchone() or (0,))[0])
    return HistoryPage(
        items=[envelope_from_row(r) for r in rows], total=total, page=page, page_size=page_size
    )


router = Router(path="/jobs", route_handlers=[job_events, job_history], tags=["jobs"])
