"""The asset aggregate: registered by URL or uploaded, stored or failed, and deleted only when no
unfinished job uses it."""

from __future__ import annotations

import pytest

from adpipe.domain.asset import (
    AssetState,
    DeleteAsset,
    RegisterAsset,
    decide,
    deletion_guards,
    fold,
)
from adpipe.errors import Conflict, NotFound
from adpipe.events.asset import (
    AssetDeleted,
    AssetFailed,
    AssetMetadata,
    AssetRegistered,
    AssetStored,
)
from adpipe.events.base import Event
from testkit.aggregates import history, job, trips

STORED = AssetStored(
    blob_id="b1", metadata=AssetMetadata(format="png", content_type="image/png", size=10)
)
REGISTERED = AssetRegistered(asset_id="a1", user_id="alice", name="shoe.png", asset_type="image")


def shoe(*more: Event) -> AssetState:
    return fold(history("asset-a1", REGISTERED, *more))


def test_an_asset_registered_by_url_is_pending_with_a_tidy_name_and_tags() -> None:
    asked = AssetRegistered(
        asset_id="a1",
        user_id="alice",
        name="  shoe.png ",
        asset_type="image",
        source_url="https://cdn.example/shoe.png",
        tags=[" hero", "hero", " ", "summer "],
    )
    command = RegisterAsset(registered=asked)

    events = decide(AssetState(), command)

    assert len(events) == 1 and isinstance(events[0], AssetRegistered)
    assert events[0].name == "shoe.png" and events[0].tags == ["hero", "summer"]
    assert fold(history("asset-a1", *events)).status == "pending"


def test_an_uploaded_asset_is_stored_in_the_same_append() -> None:
    command = RegisterAsset(registered=REGISTERED, stored=STORED)

    events = decide(AssetState(), command)

    assert events == [REGISTERED, STORED]
    assert fold(history("asset-a1", *events)).status == "ready"


def test_the_downloader_outcome_sets_the_status() -> None:
    assert shoe(STORED).status == "ready"
    assert shoe(AssetFailed(code="not_found", message="404")).status == "failed"


def test_registering_an_asset_whose_stream_exists_is_a_conflict() -> None:
    command = RegisterAsset(registered=REGISTERED)
    with pytest.raises(Conflict, match="already exists"):
        decide(shoe(), command)


def test_an_asset_used_by_unfinished_jobs_cannot_be_deleted_and_says_which() -> None:
    with pytest.raises(Conflict, match="used by unfinished job j1; let them finish"):
        decide(shoe(STORED), DeleteAsset(used_by=["j1"]))
    with pytest.raises(Conflict, match="used by unfinished jobs j1, j2;"):
        decide(shoe(STORED), DeleteAsset(used_by=["j1", "j2"]))


def test_a_deleted_asset_takes_no_command() -> None:
    assert decide(shoe(STORED), DeleteAsset(used_by=[])) == [AssetDeleted()]

    with pytest.raises(NotFound, match="asset a1 does not exist"):
        decide(shoe(STORED, AssetDeleted()), DeleteAsset(used_by=[]))


def test_a_deletion_is_guarded_by_jobs_created_with_this_asset_only() -> None:
    guards = deletion_guards("a1", 3)

    assert [g.position for g in guards] == [3]
    assert any(trips(g, job(client_id="c1", asset_ids=("a0", "a1"))) for g in guards)
    assert not any(trips(g, job(client_id="c1", asset_ids=("a0", "a2"))) for g in guards)
    assert not any(trips(g, job(client_id="c1")) for g in guards)
