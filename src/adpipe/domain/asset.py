"""The asset aggregate: an image, clip or sound of a user's, registered, stored, deleted.

Registered by URL it is pending until the downloader stores it (or fails to); uploaded, its bytes
are stored in the same append. An asset an unfinished job uses cannot be deleted: the jobs are
other streams, so the delete command carries what the read models showed at log position P and
`deletion_guards` names the events after P that would change that. No IO here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import msgspec

from adpipe.errors import Conflict
from adpipe.events.asset import AssetDeleted, AssetFailed, AssetRegistered, AssetStored

from .guards import NoneSince, jobs_created_since
from .resource import Aggregate, Command, ResourceState, fold_events, missing

if TYPE_CHECKING:
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope

AssetStatus = Literal["pending", "ready", "failed"]


class AssetState(ResourceState, frozen=True, kw_only=True):
    asset_id: str = ""
    status: AssetStatus = "pending"


class RegisterAsset(Command, frozen=True, kw_only=True):
    """`registered` as the request gave it — by URL with `source_url` (redacted: the log never
    holds credentials), or uploaded with `stored` (its bytes are in the blob store already)."""

    registered: AssetRegistered
    stored: AssetStored | None = None


class DeleteAsset(Command, frozen=True, kw_only=True):
    """`used_by`: the unfinished jobs using it, as the caught-up read models showed them."""

    used_by: list[str]


def unique_tags(tags: Sequence[str]) -> list[str]:
    """Trimmed, blanks dropped, each once, first occurrence first."""
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def decide(state: AssetState, command: Command) -> list[Event]:
    match command:
        case RegisterAsset(registered=asked, stored=stored):
            if state.version:
                raise Conflict(f"asset {asked.asset_id} already exists")
            tidy = msgspec.structs.replace(
                asked, name=asked.name.strip(), tags=unique_tags(asked.tags)
            )
            return [tidy] if stored is None else [tidy, stored]
    if not state.exists:
        raise missing("asset", state.asset_id)
    match command:
        case DeleteAsset(used_by=jobs):
            if jobs:
                raise Conflict(
                    f"asset {state.asset_id} is used by unfinished job{'s' * (len(jobs) != 1)}"
                    f" {', '.join(jobs)}; let them finish (or cancel them) first"
                )
            return [AssetDeleted()]
    raise TypeError(f"not an asset command: {command!r}")


def evolve(state: AssetState, event: Event) -> AssetState:
    replace = msgspec.structs.replace
    match event:
        case AssetRegistered(asset_id=asset_id, user_id=user_id):
            return replace(state, asset_id=asset_id, user_id=user_id, status="pending")
        case AssetStored():
            return replace(state, status="ready")
        case AssetFailed():
            return replace(state, status="failed")
        case AssetDeleted():
            return replace(state, deleted=True)
    return state


def fold(envelopes: Sequence[Envelope]) -> AssetState:
    return fold_events(AssetState(), evolve, envelopes)


def deletion_guards(asset_id: str, position: int) -> list[NoneSince]:
    """What a deletion decided at `position` depends on: no job using this asset was created
    since. Jobs using other assets never match."""
    return [
        jobs_created_since(
            position,
            {"creative": {"assets": [{"assetId": asset_id}]}},
            f"asset {asset_id} is being used by a job created meanwhile; try again",
        )
    ]


ASSETS: Aggregate[AssetState, Command] = Aggregate(kind="asset", fold=fold, decide=decide)
