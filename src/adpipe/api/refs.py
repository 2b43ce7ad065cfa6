"""Checks on ids a request body refers to: the user's own client, campaign or asset, or 422.

A reference to another user's resource fails exactly like one to a resource that never existed.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from adpipe.errors import ValidationFailed

from . import reads

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

AssetType = Literal["image", "video", "audio"]

_TYPES_BY_EXTENSION: dict[str, AssetType] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "gif"), "image"),
    **dict.fromkeys(("mp4", "m4v", "mov", "webm"), "video"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac", "ogg", "oga", "flac"), "audio"),
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
) -> None:
    """The client exists for this user, and the campaign exists and belongs to that client."""
    if client_id is not None and await reads.client(pool, user, client_id) is None:
        raise ValidationFailed(
            f"client {client_id} does not exist",
            [{"field": _join(prefix, "clientId"), "message": "no client with this id"}],
        )
    if campaign_id is None:
        return
    campaign = await reads.campaign(pool, user, campaign_id)
    if campaign is None:
        raise ValidationFailed(
            f"campaign {campaign_id} does not exist",
            [{"field": _join(prefix, "campaignId"), "message": "no campaign with this id"}],
        )
    if client_id is not None and campaign["client_id"] != client_id:
        raise ValidationFailed(
            f"campaign {campaign_id} belongs to another client",
            [{"field": _join(prefix, "campaignId"), "message": "not a campaign of this client"}],
        )


def type_from_name(name: str | None) -> AssetType | None:
    """image, video or audio from a file name's or URL path's extension, if it tells."""
    if not name:
        return None
    extension = posixpath.splitext(name.lower())[1].lstrip(".")
    return _TYPES_BY_EXTENSION.get(extension)


def type_from_media_type(media_type: str | None) -> AssetType | None:
    major = (media_type or "").split("/", 1)[0].strip().lower()
    return major if major in ("image", "video", "audio") else None  # type: ignore[return-value]


def url_file_name(url: str) -> str:
    """The last path segment of a URL (decoded), or its host when the path is empty."""
    parts = urlsplit(url)
    name = unquote(posixpath.basename(parts.path.rstrip("/"))).replace("\x00", "")
    return (name or parts.hostname or "asset")[:200]


def url_asset_type(url: str, declared: AssetType | None, field: str) -> AssetType:
    asset_type = declared or type_from_name(urlsplit(url).path)
    if asset_type is None:
        raise ValidationFailed(
            "the asset type cannot be told from the URL; give its type",
            [{"field": field, "message": "required: image, video or audio"}],
        )
    return asset_type
