"""A job's timeline (time, actor, event, summary) and its state at any point of its history.

The state is folded with the job aggregate's own `evolve`, exactly as the API and the services
see it, so "what did the job look like at 10:42?" has one answer everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from adpipe.domain.job import JobState, evolve
from adpipe.errors import NotFound, ValidationFailed
from adpipe.events.catalogue import Envelope, stream_id
from adpipe.storage.eventstore import EventStore
from adpipe.terminal import printable

from .summary import summarize


class TimelineRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    position: int
    version: int
    recorded_at: datetime
    actor: str
    type: str
    summary: str
    event_id: str


async def job_history(store: EventStore, job_id: str) -> list[Envelope]:
    envelopes = await store.read_stream(stream_id("job", job_id))
    if not envelopes:
        raise NotFound(f"job {job_id} has no events")
    return envelopes


def timeline(envelopes: list[Envelope]) -> list[TimelineRow]:
    return [
        TimelineRow(
            position=e.position,
            version=e.version,
            recorded_at=e.recorded_at,
            actor=e.metadata.actor,
            type=e.type,
            summary=summarize(e.data),
            event_id=e.id,
        )
        for e in envelopes
    ]


def render_timeline(rows: list[TimelineRow]) -> str:
    rows = [
        msgspec.structs.replace(r, actor=printable(r.actor), summary=printable(r.summary))
        for r in rows
    ]
    actor_width = max((len(r.actor) for r in rows), default=5)
    type_width = max((len(r.type) for r in rows), default=4)
    header = f"{'time (UTC)':<23}  {'pos':>8}  {'actor':<{actor_width}}  {'event':<{type_width}}"
    lines = [header + "  summary"]
    for r in rows:
        at = r.recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
        lines.append(
            f"{at:<23}  {r.position:>8}  {r.actor:<{actor_width}}  {r.type:<{type_width}}"
            f"  {r.summary}"
        )
    return "\n".join(lines)


def parse_point(text: str) -> int | datetime:
    """A global position ("1234") or an ISO 8601 timestamp (naive means UTC)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"--at takes a position (an integer) or an ISO 8601 time, not {text!r}",
            [{"field": "at", "message": "not a position or a timestamp"}],
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def state_at(envelopes: list[Envelope], point: int | datetime) -> tuple[JobState, Envelope | None]:
    """The job as of `point` (inclusive) and the last event folded in (None: not created yet)."""
    state, last = JobState(), None
    for envelope in envelopes:
        reached = (
            envelope.position <= point if isinstance(point, int) else envelope.recorded_at <= point
        )
        if not reached:
            break
        state, last = evolve(state, envelope.data), envelope
    return state, last


def state_document(state: JobState, last: Envelope | None) -> dict[str, Any]:
    """The state as JSON-ready data, with where in the log it stands."""
    return {
        "asOf": None
        if last is None
        else {
            "position": last.position,
            "version": last.version,
            "recordedAt": last.recorded_at.isoformat(),
            "event": last.type,
        },
        "state": msgspec.to_builtins(state),
    }


def render_state(state: JobState, last: Envelope | None) -> str:
    if last is None:
        return "the job did not exist yet at that point"
    at = last.recorded_at.astimezone(UTC).isoformat()
    lines = [
        f"job {state.job_id} as of position {last.position} (version {last.version}, {at},"
        f" after {last.type})",
        f"  status    {state.status}"
        + (f" (working on {state.regenerating.describe()})" if state.regenerating else ""),
        f"  user      {state.user_id}",
        f"  progress  {state.progress} %",
        f"  cost      ${state.cost.total:.4f} (planning {state.cost.planning:g},"
        f" rendering {state.cost.rendering:g}, storage {state.cost.storage:g})",
        f"  scenes    {len(state.scenes)}, {state.duration_seconds:g} s,"
        f" {state.storyboards} storyboard(s), {state.regenerations} regeneration(s)",
    ]
    for scene in state.scenes:
        lines.append(f"    {scene.scene_number}. {scene.duration:g} s  {scene.description}")
    if state.awaiting_assets:
        lines.append(f"  waiting   for assets {', '.join(sorted(state.awaiting_assets))}")
    if state.video is not None:
        v = state.video
        lines.append(f"  video     {v.blob_id} ({v.width}x{v.height}, {v.duration_seconds:g} s)")
    if state.error is not None:
        lines.append(f"  error     {state.error.code}: {state.error.message}")
    return "\n".join(printable(line) for line in lines)
