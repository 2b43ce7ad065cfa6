"""Checks on ids a request body refers to: the user's own client, campaign or asset, or 422.

A reference to another user's resource fails exactly like one to a resource that never existed.
Creating under a client, campaign or asset and deleting it are guarded against each other (see
`delete_unused`), so a race between them cannot leave anything depending on a deleted one.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from adpipe.domain.guards import NoneSince
from adpipe.domain.guards import still_live as still_live  # for the jobs handler
from adpipe.errors import ReferenceConflict, ValidationFailed
from adpipe.events.asset import AssetType
from adpipe.storage.eventstore import GuardFailed

from . import reads
from .state import IdSource

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from psycopg_pool import AsyncConnectionPool

    from adpipe.domain.resource import Aggregate, ResourceState
    from adpipe.events.catalogue import Metadata

    from .state import ApiState

    S = TypeVar("S", bound=ResourceState)
    C = TypeVar("C")


_TYPES_BY_EXTENSION: dict[str, AssetType] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "gif"), "image"),
    **dict.fromkeys(("mp4", "m4v", "mov", "webm"), "video"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac", "ogg", "oga", "flac"), "audio"),
}


def _any_case(extension: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in extension)


# A URL whose path's last segment has one of those extensions (after at least one character
# that is not a dot, as posixpath.splitext reads it): `type_from_name` tells its type.
TYPED_URL = (
    r"^https?://[^/?#]*(?:/[^?#]*)?/[^/?#]*[^/?#.][^/?#]*\.(?:"
    + "|".join(_any_case(e) for e in sorted(_TYPES_BY_EXTENSION))
    + r")(?:[?#].*)?$"
)
# The JSON Schema of `url_asset_type`'s rule: a `type`, or a URL that tells it.
URL_TYPE_RULE: dict[str, Any] = {
    "anyOf": [
        {"required": ["type"], "properties": {"type": {"type": "string"}}},
        {"properties": {"url": {"pattern": TYPED_URL}}},
    ]
}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


async def check_owner_refs(
    pool: AsyncConnectionPool[Any],
    user: str,
    client_id: str | None,
    campaign_id: str | None,
    *,
    prefix: str = "",
) -> list[NoneSince]:
    """The client exists for this user, and the campaign exists and belongs to that client.
    Answers the guards that keep them alive until the append that refers to them commits."""
    guards = []
    if client_id is not None:
        guards.append(still_live("client", client_id))
    if campaign_id is not None:
        guards.append(still_live("campaign", campaign_id))
    if client_id is not None and await reads.client(pool, user, client_id) is None:
        raise ReferenceConflict(
            f"client {client_id} does not exist",
            [{"field": _join(prefix, "clientId"), "message": "no client with this id"}],
        )
    if campaign_id is None:
        return guards
    campaign = await reads.campaign(pool, user, campaign_id)
    if campaign is None:
        raise ReferenceConflict(
            f"campaign {campaign_id} does not exist",
            [{"field": _join(prefix, "campaignId"), "message": "no campaign with this id"}],
        )
    if client_id is not None and campaign["client_id"] != client_id:
        raise ReferenceConflict(
            f"campaign {campaign_id} belongs to another client",
            [{"field": _join(prefix, "campaignId"), "message": "not a campaign of this client"}],
        )
    return guards


DELETE_ATTEMPTS = 3


async def delete_unused(
    api: ApiState,
    aggregate: Aggregate[S, C],
    entity_id: str,
    user: str,
    look: Callable[[], Awaitable[C]],
    deletion_guards: Callable[[str, int], list[NoneSince]],
    metadata: Metadata,
) -> None:
    """Delete a client, campaign or asset with the command `look` makes from what depends on it
    in the read models (its aggregate refuses while anything does).

    The read models first catch up with the log as it is now (position P), so everything created
    before P is seen; the deletion is then appended with the aggregate's `deletion_guards`,
    refusing it if anything depending on this very resource was created after P. Creations, in
    turn, carry `still_live` guards. Either way round, nothing ends up depending on a deleted
    resource, and other resources' or users' work never trips the guards. A guard that trips (a
    creation under this very resource) just makes it look again.
    """
    for attempt in range(1, DELETE_ATTEMPTS + 1):
        since = await api.core.store.last_position()
        await api.settle(since)
        command = await look()
        guards = deletion_guards(entity_id, since)
        try:
            await api.execute(aggregate, entity_id, user, command, metadata, IdSource(user), guards)
            return
        except GuardFailed:
            if attempt == DELETE_ATTEMPTS:
                raise


def type_from_name(name: str | None) -> AssetType | None:
    """image, video or audio from a file name's or URL path's extension, if it tells."""
    if not name:
        return None
    extension = posixpath.splitext(name.lower())[1].lstrip(".")
    return _TYPES_BY_EXTENSION.get(extension)


def type_from_media_type(media_type: str | None) -> AssetType | None:
    major = (media_type or "").split("/", 1)[0].strip().lower()
    return major if major in ("image", "video", "audio") else None  # type: ignore[return-value]


_URL_PARTS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<host>[^/?#]*)(?P<path>[^?#]*)")


def _url_path(url: str) -> str:
    """The path of an http(s) URL, read as `urlsplit` does, but without its checks (a `[` in
    the host makes it raise): a URL the schema allows is refused by the fetch, not here."""
    match = _URL_PARTS.match(url)
    return match.group("path") if match else ""


def url_file_name(url: str) -> str:
    """The last path segment of a URL (decoded), or its host when the path is empty."""
    name = unquote(posixpath.basename(_url_path(url).rstrip("/"))).replace("\x00", "")
    if not name:
        try:
            name = urlsplit(url).hostname or ""
        except ValueError:  # a malformed [IPv6] host
            name = ""
    return (name or "asset")[:200]


def url_asset_type(url: str, declared: AssetType | None, field: str) -> AssetType:
    asset_type = declared or type_from_name(_url_path(url))
    if asset_type is None:
        raise ValidationFailed(
            "the asset type cannot be told from the URL; give its type",
            [{"field": field, "message": "required: image, video or audio"}],
        )
    return asset_type
