"""The campaign aggregate: stays with its client, never ends before it starts, and is deleted
only when it has no unfinished job."""

from __future__ import annotations

import pytest

from adpipe.domain.campaign import (
    CampaignState,
    CreateCampaign,
    DeleteCampaign,
    ReplaceCampaign,
    decide,
    deletion_guards,
    fold,
)
from adpipe.errors import Conflict, NotFound, ReferenceConflict, ValidationFailed
from adpipe.events.base import Event
from adpipe.events.party import CampaignCreated, CampaignDeleted, CampaignProfile, CampaignUpdated
from testkit.aggregates import history, job, trips

Q4 = CampaignProfile(name="Q4 launch", start_date="2025-10-01", end_date="2025-12-31")
BACKWARDS = CampaignProfile(name="Q4 launch", start_date="2026-01-01", end_date="2025-01-01")
CREATED = CampaignCreated(campaign_id="k1", user_id="alice", client_id="c1", profile=Q4)


def q4(*more: Event) -> CampaignState:
    return fold(history("campaign-k1", CREATED, *more))


def test_a_new_campaign_belongs_to_its_client() -> None:
    command = CreateCampaign(campaign_id="k1", user_id="alice", client_id="c1", profile=Q4)

    events = decide(CampaignState(), command)

    assert events == [CREATED]
    assert q4().client_id == "c1" and q4().exists


@pytest.mark.parametrize(
    "command",
    [
        CreateCampaign(campaign_id="k2", user_id="alice", client_id="c1", profile=BACKWARDS),
        ReplaceCampaign(client_id="c1", profile=BACKWARDS),
    ],
)
def test_a_campaign_cannot_end_before_it_starts(
    command: CreateCampaign | ReplaceCampaign,
) -> None:
    state = CampaignState() if isinstance(command, CreateCampaign) else q4()
    with pytest.raises(ValidationFailed) as refused:
        decide(state, command)

    assert refused.value.errors == [{"field": "endDate", "message": "must not be before startDate"}]


def test_a_campaign_cannot_move_to_another_client() -> None:
    with pytest.raises(ReferenceConflict) as refused:
        decide(q4(), ReplaceCampaign(client_id="c2", profile=Q4))

    assert refused.value.errors == [{"field": "clientId", "message": "must stay c1"}]


def test_replacing_a_campaign_records_its_whole_new_profile() -> None:
    renamed = CampaignProfile(name="Q1", objective="reach")

    events = decide(q4(), ReplaceCampaign(client_id="c1", profile=renamed))

    assert events == [CampaignUpdated(profile=renamed)]
    assert q4(*events).profile == renamed


def test_a_campaign_with_unfinished_jobs_cannot_be_deleted() -> None:
    with pytest.raises(Conflict, match="campaign k1 still has 1 unfinished job;"):
        decide(q4(), DeleteCampaign(active_jobs=1))
    with pytest.raises(Conflict, match="still has 4 unfinished jobs;"):
        decide(q4(), DeleteCampaign(active_jobs=4))


def test_a_deleted_campaign_takes_no_command() -> None:
    assert decide(q4(), DeleteCampaign(active_jobs=0)) == [CampaignDeleted()]

    deleted = q4(CampaignDeleted())
    for command in (ReplaceCampaign(client_id="c1", profile=Q4), DeleteCampaign(active_jobs=0)):
        with pytest.raises(NotFound, match="campaign k1 does not exist"):
            decide(deleted, command)


def test_a_deletion_is_guarded_by_jobs_created_in_this_campaign_only() -> None:
    guards = deletion_guards("k1", 7)

    assert [g.position for g in guards] == [7]
    assert any(trips(g, job(client_id="c1", campaign_id="k1")) for g in guards)
    assert not any(trips(g, job(client_id="c1", campaign_id="k2")) for g in guards)
    assert not any(trips(g, job(client_id="c1")) for g in guards)
