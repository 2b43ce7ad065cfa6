"""What a decision depended on outside its own stream, as a condition its append re-checks.

An aggregate decides against its own stream; a rule that spans resources (a client with unfinished
jobs cannot be deleted) also depends on what the read models showed of the others. The aggregate
names the events that would change that answer as a `NoneSince`, and the event store refuses the
append (`GuardFailed`, 409) if one was appended meanwhile — checked under its table lock, so exact.
"""

from __future__ import annotations

from typing import Any

import msgspec

from adpipe.events.catalogue import stream_id


class NoneSince(msgspec.Struct, frozen=True, kw_only=True):
    """Guard: no event of one of `types` was appended after log `position` (0: ever), in
    `stream` or, without one, anywhere — counting only events whose data contains `matching`
    (jsonb containment), so a rule about one client is not tripped by another's work."""

    position: int = 0
    types: tuple[str, ...]
    stream: str | None = None
    matching: dict[str, Any] | None = None
    reason: str


def still_live(kind: str, entity_id: str) -> NoneSince:
    """Guard for an append that refers to a client, campaign or asset: refused if it was deleted,
    even a moment ago (its delete checks for dependents the other way round, with the guards its
    aggregate names: `deletion_guards`)."""
    return NoneSince(
        types=(f"{kind}.deleted",),
        stream=stream_id(kind, entity_id),
        reason=f"{kind} {entity_id} was deleted while this request ran",
    )


def jobs_created_since(position: int, matching: dict[str, Any], reason: str) -> NoneSince:
    """Guard: no job whose `job.created` data contains `matching` was created after `position` —
    another user's or another resource's job never matches, so it never trips it."""
    return NoneSince(position=position, types=("job.created",), matching=matching, reason=reason)
