"""The client aggregate: a user's brand, created, replaced whole (PUT) and deleted.

A client with campaigns or unfinished jobs cannot be deleted. Those live in other streams, so the
delete command carries what the read models showed at log position P, and `deletion_guards` names
the events after P that would have changed that answer. No IO here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from adpipe.errors import Conflict
from adpipe.events.party import ClientCreated, ClientDeleted, ClientProfile, ClientUpdated

from .guards import NoneSince, jobs_created_since
from .resource import Aggregate, Command, ResourceState, fold_events, missing, plural

if TYPE_CHECKING:
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope


class ClientState(ResourceState, frozen=True, kw_only=True):
    client_id: str = ""
    profile: ClientProfile | None = None


class CreateClient(Command, frozen=True, kw_only=True):
    client_id: str
    user_id: str
    profile: ClientProfile


class ReplaceClient(Command, frozen=True, kw_only=True):
    profile: ClientProfile


class DeleteClient(Command, frozen=True, kw_only=True):
    """`campaigns` and `active_jobs`: the client's live campaigns and unfinished jobs, as the read
    models showed them once caught up with the position the deletion's guards start from."""

    campaigns: int
    active_jobs: int


def decide(state: ClientState, command: Command) -> list[Event]:
    match command:
        case CreateClient(client_id=client_id, user_id=user_id, profile=profile):
            if state.version:
                raise Conflict(f"client {client_id} already exists")
            return [ClientCreated(client_id=client_id, user_id=user_id, profile=profile)]
    if not state.exists:
        raise missing("client", state.client_id)
    match command:
        case ReplaceClient(profile=profile):
            return [ClientUpdated(profile=profile)]
        case DeleteClient(campaigns=campaigns, active_jobs=active_jobs):
            reasons = []
            if campaigns:
                reasons.append(plural(campaigns, "campaign"))
            if active_jobs:
                reasons.append(plural(active_jobs, "unfinished job"))
            if reasons:
                raise Conflict(
                    f"client {state.client_id} still has {' and '.join(reasons)}; delete its"
                    " campaigns and let its jobs finish (or cancel them) first"
                )
            return [ClientDeleted()]
    raise TypeError(f"not a client command: {command!r}")


def evolve(state: ClientState, event: Event) -> ClientState:
    replace = msgspec.structs.replace
    match event:
        case ClientCreated(client_id=client_id, user_id=user_id, profile=profile):
            return replace(state, client_id=client_id, user_id=user_id, profile=profile)
        case ClientUpdated(profile=profile):
            return replace(state, profile=profile)
        case ClientDeleted():
            return replace(state, deleted=True)
    return state


def fold(envelopes: Sequence[Envelope]) -> ClientState:
    return fold_events(ClientState(), evolve, envelopes)


def deletion_guards(client_id: str, position: int) -> list[NoneSince]:
    """What a deletion decided at `position` depends on: no campaign and no job was created for
    this client since. Only creations naming this client count."""
    reason = f"client {client_id} is being used by requests in flight; try again"
    campaigns = NoneSince(
        position=position,
        types=("campaign.created",),
        matching={"clientId": client_id},
        reason=reason,
    )
    return [campaigns, jobs_created_since(position, {"context": {"clientId": client_id}}, reason)]


CLIENTS: Aggregate[ClientState, Command] = Aggregate(kind="client", fold=fold, decide=decide)
