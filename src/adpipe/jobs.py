"""The thin application layer for jobs: load the aggregate, decide, append at the expected version.

A version conflict means someone else appended first; the command is decided again against the
new state (which may now refuse it), never forced over the other write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from adpipe.domain.job import Command, JobState, decide, evolve
from adpipe.errors import StreamVersionConflict
from adpipe.events.catalogue import Envelope, Metadata, NewEvent, stream_id
from adpipe.observability.jobs import observed_command

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adpipe.storage.eventstore import EventStore, NoneSince


def job_stream(job_id: str) -> str:
    return str(stream_id("job", job_id))


async def load_job(store: EventStore, job_id: str) -> JobState:
    state = JobState()
    for envelope in await store.read_stream(job_stream(job_id)):
        state = evolve(state, envelope.data)
    return state


@observed_command  # the job's trace, stage durations and endings (adpipe.observability.jobs)
async def execute(
    store: EventStore,
    job_id: str,
    command: Command | Callable[[JobState], Command],
    metadata: Metadata | None = None,
    *,
    retries: int = 5,
    event_ids: list[str] | None = None,
    guards: Sequence[NoneSince] = (),
    known: JobState | None = None,
    follows: Sequence[asyncio.Future[list[Envelope]]] = (),
) -> tuple[JobState, list[Envelope]]:
    """Decides and appends; answers the new state and what was recorded (maybe nothing).

    `command` may be a function of the current state, for commands that depend on it.
    `event_ids` makes a client retry idempotent: the same ids are recorded once. `guards` are
    passed to the append (see `EventStore.append`). `known` is the state when the caller knows
    it without reading (a job under an id it has just made up); a conflict reads it after all.
    `follows`: appends queued before it that must be written for it to be (`append_soon`).
    """
    stream = job_stream(job_id)
    for _ in range(retries + 1):
        state = known if known is not None else await load_job(store, job_id)
        known = None
        cmd = command(state) if callable(command) else command
        events = decide(state, cmd)
        if not events:
            return state, []
        batch = [
            NewEvent(event=e, id=event_ids[i])
            if event_ids and i < len(event_ids)
            else NewEvent(event=e)
            for i, e in enumerate(events)
        ]
        try:
            recorded = await store.append(
                stream, batch, state.version, metadata, guards=guards, follows=follows
            )
        except StreamVersionConflict:
            continue
        for envelope in recorded:
            state = evolve(state, envelope.data)
        return state, recorded
    raise StreamVersionConflict(stream, "a stable version", -1)
