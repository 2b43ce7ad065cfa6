"""The campaign aggregate: a client's campaign, created, replaced whole (PUT) and deleted.

A campaign stays with the client it was created for, never ends before it starts, and cannot be
deleted while it has unfinished jobs (other streams: the delete command carries what the read
models showed at log position P, `deletion_guards` names the events after P that would change
that). No IO here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from adpipe.errors import Conflict, ReferenceConflict, ValidationFailed
from adpipe.events.party import CampaignCreated, CampaignDeleted, CampaignProfile, CampaignUpdated

from .guards import NoneSince, jobs_created_since
from .resource import Aggregate, Command, ResourceState, fold_events, missing, plural

if TYPE_CHECKING:
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope


class CampaignState(ResourceState, frozen=True, kw_only=True):
    campaign_id: str = ""
    client_id: str = ""
    profile: CampaignProfile | None = None


class CreateCampaign(Command, frozen=True, kw_only=True):
    campaign_id: str
    user_id: str
    client_id: str
    profile: CampaignProfile


class ReplaceCampaign(Command, frozen=True, kw_only=True):
    """A PUT: the whole profile; `client_id` must be the campaign's own."""

    client_id: str
    profile: CampaignProfile


class DeleteCampaign(Command, frozen=True, kw_only=True):
    """`active_jobs`: the campaign's unfinished jobs as the caught-up read models showed them."""

    active_jobs: int


def check_dates(profile: CampaignProfile) -> None:
    # ISO dates (YYYY-MM-DD) order as strings do.
    if profile.start_date and profile.end_date and profile.end_date < profile.start_date:
        raise ValidationFailed(
            "the campaign ends before it starts",
            [{"field": "endDate", "message": "must not be before startDate"}],
        )


def decide(state: CampaignState, command: Command) -> list[Event]:
    match command:
        case CreateCampaign() as create:
            if state.version:
                raise Conflict(f"campaign {create.campaign_id} already exists")
            check_dates(create.profile)
            return [
                CampaignCreated(
                    campaign_id=create.campaign_id,
                    user_id=create.user_id,
                    client_id=create.client_id,
                    profile=create.profile,
                )
            ]
    if not state.exists:
        raise missing("campaign", state.campaign_id)
    match command:
        case ReplaceCampaign(client_id=client_id, profile=profile):
            if client_id != state.client_id:
                raise ReferenceConflict(
                    "a campaign cannot move to another client",
                    [{"field": "clientId", "message": f"must stay {state.client_id}"}],
                )
            check_dates(profile)
            return [CampaignUpdated(profile=profile)]
        case DeleteCampaign(active_jobs=active):
            if active:
                raise Conflict(
                    f"campaign {state.campaign_id} still has {plural(active, 'unfinished job')};"
                    " let them finish (or cancel them) first"
                )
            return [CampaignDeleted()]
    raise TypeError(f"not a campaign command: {command!r}")


def evolve(state: CampaignState, event: Event) -> CampaignState:
    replace = msgspec.structs.replace
    match event:
        case CampaignCreated() as e:
            return replace(
                state,
                campaign_id=e.campaign_id,
                user_id=e.user_id,
                client_id=e.client_id,
                profile=e.profile,
            )
        case CampaignUpdated(profile=profile):
            return replace(state, profile=profile)
        case CampaignDeleted():
            return replace(state, deleted=True)
    return state


def fold(envelopes: Sequence[Envelope]) -> CampaignState:
    return fold_events(CampaignState(), evolve, envelopes)


def deletion_guards(campaign_id: str, position: int) -> list[NoneSince]:
    """What a deletion decided at `position` depends on: no job was created in this campaign
    since. Other campaigns' and other users' jobs never match."""
    reason = f"campaign {campaign_id} is being used by requests in flight; try again"
    return [jobs_created_since(position, {"context": {"campaignId": campaign_id}}, reason)]


CAMPAIGNS: Aggregate[CampaignState, Command] = Aggregate(kind="campaign", fold=fold, decide=decide)
