"""Events of an asset's stream (`asset-<id>`): registered, stored as a blob, failed, deleted."""

from __future__ import annotations

from typing import Literal

import msgspec

from .base import Event

# What an asset is, for every layer: the API's bodies and views, the probe, planner and renderer.
AssetType = Literal["image", "video", "audio"]


class AssetMetadata(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the content itself says about an asset (probed, never taken from the URL or headers)."""

    format: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    has_audio: bool | None = None


class AssetRegistered(Event, frozen=True, kw_only=True, tag="asset.registered"):
    """An asset exists (status pending) — uploaded bytes follow at once, a URL after download."""

    asset_id: str
    user_id: str
    name: str
    asset_type: AssetType
    source_url: str | None = None
    client_id: str | None = None
    campaign_id: str | None = None
    tags: list[str] = []
    job_id: str | None = None


class AssetStored(Event, frozen=True, kw_only=True, tag="asset.stored"):
    blob_id: str
    metadata: AssetMetadata
    thumbnail_blob_id: str | None = None
    cost: float = 0.0


class AssetFailed(Event, frozen=True, kw_only=True, tag="asset.failed"):
    code: str
    message: str


class AssetDeleted(Event, frozen=True, kw_only=True, tag="asset.deleted"):
    pass


ASSET_EVENTS: tuple[type[Event], ...] = (AssetRegistered, AssetStored, AssetFailed, AssetDeleted)
