"""What the planner is given: the ad's brief, the job's assets, and how to reach an LLM."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from adpipe.events.asset import AssetType

# How to reach an LLM is a setting like any other; the engine takes it as it is given.
from adpipe.settings import PlannerSettings

__all__ = ["Brief", "PlannerAsset", "PlannerSettings", "audio_ids", "visual_ids"]


class Brief(msgspec.Struct, frozen=True, kw_only=True):
    """The job's ad basics and creative direction, as the planner needs them."""

    product: str
    target_audience: str
    key_message: str
    call_to_action: str
    style: str
    tone: str = ""
    visual_elements: list[str] = []
    duration_seconds: float = 30.0
    aspect_ratio: str = "16:9"


class PlannerAsset(msgspec.Struct, frozen=True, kw_only=True):
    """One downloaded asset of the job; metadata is whatever the downloader could read."""

    id: str
    type: AssetType
    name: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def visual_ids(assets: Iterable[PlannerAsset]) -> list[str]:
    """Ids of the assets a scene can show; audio is a soundtrack, never a scene's picture."""
    return [a.id for a in assets if a.type != "audio"]


def audio_ids(assets: Iterable[PlannerAsset]) -> list[str]:
    return [a.id for a in assets if a.type == "audio"]
