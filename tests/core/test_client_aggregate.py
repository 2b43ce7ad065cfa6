"""The client aggregate: created, replaced whole, deleted only when nothing depends on it."""

from __future__ import annotations

import msgspec
import pytest

from adpipe.domain.client import (
    ClientState,
    CreateClient,
    DeleteClient,
    ReplaceClient,
    decide,
    deletion_guards,
    fold,
)
from adpipe.errors import Conflict, NotFound
from adpipe.events.base import Event
from adpipe.events.party import (
    CampaignCreated,
    CampaignProfile,
    ClientCreated,
    ClientDeleted,
    ClientProfile,
    ClientUpdated,
)
from testkit.aggregates import history, job, trips

ACME = ClientProfile(name="ACME", website="https://acme.example", brand_colors=["#ff0000"])
CREATED = ClientCreated(client_id="c1", user_id="alice", profile=ACME)


def acme(*more: Event) -> ClientState:
    return fold(history("client-c1", CREATED, *more))


def test_a_new_client_is_created_with_its_owner_and_profile() -> None:
    events = decide(ClientState(), CreateClient(client_id="c1", user_id="alice", profile=ACME))

    assert events == [CREATED]
    state = fold(history("client-c1", *events))
    assert (state.version, state.user_id, state.profile, state.exists) == (1, "alice", ACME, True)


def test_creating_a_client_whose_stream_exists_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already exists"):
        decide(acme(), CreateClient(client_id="c1", user_id="alice", profile=ACME))


def test_replacing_a_client_keeps_only_the_new_profile() -> None:
    globex = ClientProfile(name="Globex")

    events = decide(acme(), ReplaceClient(profile=globex))

    assert events == [ClientUpdated(profile=globex)]
    state = acme(*events)
    assert state.profile == globex and state.version == 2


@pytest.mark.parametrize(
    ("campaigns", "active_jobs", "said"),
    [
        (1, 0, "still has 1 campaign;"),
        (0, 2, "still has 2 unfinished jobs;"),
        (3, 1, "still has 3 campaigns and 1 unfinished job;"),
    ],
)
def test_a_client_with_campaigns_or_unfinished_jobs_cannot_be_deleted(
    campaigns: int, active_jobs: int, said: str
) -> None:
    with pytest.raises(Conflict, match=said) as refused:
        decide(acme(), DeleteClient(campaigns=campaigns, active_jobs=active_jobs))

    assert refused.value.detail.startswith("client c1 ")


def test_a_client_nothing_depends_on_is_deleted_and_then_takes_no_command() -> None:
    assert decide(acme(), DeleteClient(campaigns=0, active_jobs=0)) == [ClientDeleted()]

    deleted = acme(ClientDeleted())
    assert not deleted.exists
    for command in (ReplaceClient(profile=ACME), DeleteClient(campaigns=0, active_jobs=0)):
        with pytest.raises(NotFound, match="client c1 does not exist"):
            decide(deleted, command)


def test_a_deletion_is_guarded_by_creations_under_this_client_only() -> None:
    guards = deletion_guards("c1", 42)
    campaign = CampaignCreated(
        campaign_id="k1", user_id="alice", client_id="c1", profile=CampaignProfile(name="Q4")
    )

    assert {g.position for g in guards} == {42}
    assert any(trips(g, campaign) for g in guards)
    assert any(trips(g, job(client_id="c1", campaign_id="k1")) for g in guards)
    # Another client's work (the same user's or anyone's) never holds the deletion up.
    others = [
        msgspec.structs.replace(campaign, client_id="c2"),
        job(client_id="c2"),
        CREATED,
    ]
    assert not [e for e in others if any(trips(g, e) for g in guards)]
