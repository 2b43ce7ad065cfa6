"""A storyboard scene, as carried by job events and shown by the API (camelCase on the wire)."""

from __future__ import annotations

import msgspec


class Scene(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One scene of a storyboard; `assets` holds only the job's own asset ids."""

    scene_number: int
    duration: float
    description: str
    script: str
    shot_type: str
    transition: str
    assets: list[str] = []
