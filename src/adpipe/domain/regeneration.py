"""What the planner is working on for the user while a storyboard is in review: one scene's new
take, or a whole new storyboard (asked for, or after a rejection). A tagged union, so the job's
state, the planner and the API read the same typed value instead of parsing a string.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class SceneRegeneration(msgspec.Struct, frozen=True, kw_only=True, tag="scene"):
    """A new take of one scene was requested."""

    scene_number: int
    feedback: str | None = None

    def describe(self) -> str:
        return f"scene {self.scene_number}"


class StoryboardRegeneration(msgspec.Struct, frozen=True, kw_only=True, tag="storyboard"):
    """A new storyboard was requested: every scene again (`regenerate_all`), or after a rejection
    (`reject`, whose feedback is required). The reason is the one `job.scenes_generated` records."""

    reason: Literal["regenerate_all", "reject"]
    feedback: str | None = None

    def describe(self) -> str:
        return "the storyboard"


Regeneration = SceneRegeneration | StoryboardRegeneration
