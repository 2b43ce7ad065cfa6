"""What each job command leaves for operators: a span in the job's own trace, the durations of the
job's stages, and how jobs end.

A job is one trace. The request that creates it starts the trace; every later command on the job
(an approval hours later, a service recording its work) runs in a span parented to the job's
creation, linked to the request that asked for it. So the trace of job X shows its creation, its
downloads, its planning, its approval and its render in one tree.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import tracing
from .metrics import JOB_FAILURES, JOB_STAGE_DURATION, JOBS_FINISHED

if TYPE_CHECKING:
    from adpipe.domain.job import JobState
    from adpipe.events.catalogue import Envelope
    from adpipe.storage.eventstore import EventStore

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# stage -> (the event that ends it, the event it is measured from)
STAGES: dict[str, tuple[str, str]] = {
    "created_to_storyboard": ("job.scenes_generated", "job.created"),
    "approved_to_render_started": ("job.render_started", "job.approved"),
    "approved_to_completed": ("job.render_completed", "job.approved"),
}
_ENDINGS = {
    "job.render_completed": "completed",
    "job.failed": "failed",
    "job.cancelled": "cancelled",
}


def observed_command(execute: F) -> F:
    """Wraps `adpipe.jobs.execute(store, job_id, command, …)`: runs it in the job's trace and
    records the stages and endings its events complete."""

    @functools.wraps(execute)
    async def wrapper(
        store: EventStore, job_id: str, command: Any, *args: Any, **kwargs: Any
    ) -> Any:
        result: tuple[JobState, list[Envelope]]
        if tracing.enabled():
            name = type(command).__name__ if not callable(command) else "command"
            root = await _creation_traceparent(store, job_id)
            current = tracing.current_traceparent()
            joins = root is not None and tracing.trace_id_of(root) != tracing.trace_id_of(current)
            with tracing.span(
                f"job {name}",
                parent=root if joins else None,
                links=[current] if joins else (),
                attributes={"adpipe.job_id": job_id, "adpipe.command": name},
            ):
                result = await execute(store, job_id, command, *args, **kwargs)
        else:
            result = await execute(store, job_id, command, *args, **kwargs)
        state, recorded = result
        if recorded:
            await observe_recorded(store, state, recorded)
        return result

    return cast(F, wrapper)


async def _creation_traceparent(store: EventStore, job_id: str) -> str | None:
    async with store.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT metadata->>'traceparent' FROM events WHERE stream = %s AND version = 1",
            [f"job-{job_id}"],
        )
        row = await cur.fetchone()
    return str(row[0]) if row and row[0] else None


async def observe_recorded(
    store: EventStore, state: JobState, recorded: Sequence[Envelope]
) -> None:
    """Stage durations from the events' recorded times, and jobs' endings. Never raises: an
    operator's metric is not worth failing the work it describes."""
    try:
        ends: dict[str, datetime] = {}
        for envelope in recorded:
            if (status := _ENDINGS.get(envelope.type)) is not None:
                JOBS_FINISHED.labels(status).inc()
                if status == "failed":
                    data = envelope.data
                    JOB_FAILURES.labels(
                        getattr(data, "stage", "") or "unknown", getattr(data, "code", "unknown")
                    ).inc()
            if _first_of_its_kind(envelope, state):
                ends[envelope.type] = envelope.recorded_at
        wanted = {start for end, start in STAGES.values() if end in ends}
        if not wanted:
            return
        starts = await _recorded_times(store, recorded[0].stream, wanted)
        for stage, (end, start) in STAGES.items():
            if end in ends and start in starts:
                seconds = (ends[end] - starts[start]).total_seconds()
                JOB_STAGE_DURATION.labels(stage).observe(max(0.0, seconds))
    except Exception as exc:
        log.warning("could not record the job's stage metrics: %s", exc)


def _first_of_its_kind(envelope: Envelope, state: JobState) -> bool:
    """Only the first storyboard and the first render attempt end a stage (regenerations and
    retries are work inside the stage, not its end)."""
    match envelope.type:
        case "job.scenes_generated":
            return (
                getattr(envelope.data, "reason", "initial") == "initial" and state.storyboards == 1
            )
        case "job.render_started":
            return getattr(envelope.data, "attempt", 1) == 1
        case "job.render_completed":
            return True
    return False


async def _recorded_times(store: EventStore, stream: str, types: set[str]) -> dict[str, datetime]:
    """When the latest event of each type was recorded in `stream`."""
    async with store.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT type, max(recorded_at) FROM events WHERE stream = %s AND type = ANY(%s)"
            " GROUP BY type",
            [stream, sorted(types)],
        )
        return {str(t): when for t, when in await cur.fetchall()}
