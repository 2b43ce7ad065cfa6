"""The thin application layer for a user's clients, campaigns, assets and webhook subscriptions:
load the stream, fold, decide, append at the expected version (jobs have theirs in `jobs.py`).

A version conflict means someone else appended first: the command is decided again against the
new state (which may now refuse it), never forced over the other write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from adpipe.domain.resource import Aggregate, ResourceState, missing
from adpipe.errors import Conflict, StreamVersionConflict
from adpipe.events.catalogue import NewEvent, stream_id
from adpipe.storage.eventstore import NO_STREAM

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from adpipe.domain.guards import NoneSince
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope, Metadata
    from adpipe.storage.eventstore import EventStore

S = TypeVar("S", bound=ResourceState)
C = TypeVar("C")


async def create(
    store: EventStore,
    aggregate: Aggregate[S, C],
    entity_id: str,
    command: C,
    metadata: Metadata,
    *,
    new_id: Callable[[str], str] | None = None,
    guards: Sequence[NoneSince] = (),
) -> list[Envelope]:
    """A new stream: decided against nothing, appended only if the stream does not exist yet
    (or holds exactly these event ids: a retried request, answered with what it recorded)."""
    stream = stream_id(aggregate.kind, entity_id)
    events = aggregate.decide(aggregate.fold([]), command)
    return await store.append(
        stream, _batch(stream, events, NO_STREAM, new_id), NO_STREAM, metadata, guards=guards
    )


async def execute(
    store: EventStore,
    aggregate: Aggregate[S, C],
    entity_id: str,
    user: str,
    command: C,
    metadata: Metadata,
    *,
    new_id: Callable[[str], str] | None = None,
    guards: Sequence[NoneSince] = (),
    retries: int = 3,
) -> tuple[S, list[Envelope]]:
    """Decides against the stream of `user`'s resource (another user's, or none, answers
    NotFound) and appends; answers the new state and what was recorded (maybe nothing)."""
    stream = stream_id(aggregate.kind, entity_id)
    for _ in range(retries + 1):
        envelopes = await store.read_stream(stream)
        state = aggregate.fold(envelopes)
        if not state.version or state.user_id != user:
            raise missing(aggregate.kind, entity_id)
        events = aggregate.decide(state, command)
        if not events:
            return state, []
        batch = _batch(stream, events, state.version, new_id)
        try:
            recorded = await store.append(stream, batch, state.version, metadata, guards=guards)
        except StreamVersionConflict:
            continue
        return aggregate.fold([*envelopes, *recorded]), recorded
    raise Conflict(f"{aggregate.kind} {entity_id} keeps changing; try again")


def _batch(
    stream: str, events: list[Event], version: int, new_id: Callable[[str], str] | None
) -> list[NewEvent]:
    if new_id is None:
        return [NewEvent(event=e) for e in events]
    return [
        NewEvent(event=e, id=new_id(f"event:{stream}:{version + i}"))
        for i, e in enumerate(events, start=1)
    ]
