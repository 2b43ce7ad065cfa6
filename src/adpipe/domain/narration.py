"""The narration rules of a job: which scenes must be spoken, which narration still fits its
scene, and what a scene's narration status is. Pure, like the aggregate that uses them.

A narration belongs to the script and the scene duration it was made for. Editing either makes it
stale (the scene needs a new one); a narration that lengthened its scene set that duration itself,
so it stays current. A script without a single letter or digit ("…", "—") is not spoken: such a
scene has no narration and no caption.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from adpipe.errors import InvalidTransition, ValidationFailed
from adpipe.events.job import JobFailed
from adpipe.events.narration import NarrationFailed, NarrationSynthesized, WordTiming

from .storyboard import MAX_TOTAL_SECONDS

if TYPE_CHECKING:
    from adpipe.events.base import Event
    from adpipe.events.scene import Scene

    from .job import JobState

NarrationStatus = Literal["pending", "ready", "failed", "none"]


class Narration(msgspec.Struct, frozen=True, kw_only=True):
    """A scene's narration as the job keeps it (the payload of `job.narration_synthesized`)."""

    scene_number: int
    script: str
    planned_duration: float
    blob_id: str
    content_type: str
    duration_seconds: float
    lead_seconds: float
    words: list[WordTiming] = []
    voice: str
    engine: str
    speed: float
    characters: int = 0
    cost: float = 0.0
    # The scene's duration once the narration was fitted (> planned_duration when lengthened).
    scene_duration: float
    lengthened: bool = False
    note: str = ""

    @classmethod
    def of(cls, event: NarrationSynthesized) -> Narration:
        fields = msgspec.structs.asdict(event)
        fields.pop("storyboard_seconds")
        return cls(**fields)


class NarrationFailure(msgspec.Struct, frozen=True, kw_only=True):
    """Why a scene's script could not be spoken; it stands until the scene changes."""

    scene_number: int
    script: str
    code: str
    message: str


def spoken(script: str) -> bool:
    """Whether a script has anything to say: at least one letter or digit."""
    return any(c.isalnum() for c in script)


def voiceover_on(state: JobState) -> bool:
    creative = state.creative
    return creative is not None and creative.voiceover is not None and creative.voiceover.enabled


def fits(narration: Narration | None, scene: Scene) -> bool:
    """Whether `narration` was made for the scene as it is now (script and duration)."""
    return (
        narration is not None
        and narration.script == scene.script
        and narration.scene_duration == scene.duration
    )


def current_narration(state: JobState, scene: Scene) -> Narration | None:
    narration = state.narrations.get(scene.scene_number)
    return narration if fits(narration, scene) else None


def current_failure(state: JobState, scene: Scene) -> NarrationFailure | None:
    failure = state.narration_failures.get(scene.scene_number)
    return failure if failure is not None and failure.script == scene.script else None


def narration_status(state: JobState, scene: Scene) -> NarrationStatus:
    if not voiceover_on(state) or not spoken(scene.script):
        return "none"
    if current_narration(state, scene) is not None:
        return "ready"
    if current_failure(state, scene) is not None:
        return "failed"
    return "pending"


def scenes_to_narrate(state: JobState) -> list[int]:
    """Numbers of the scenes whose narration is still to be made (failed ones excluded)."""
    return [s.scene_number for s in state.scenes if narration_status(state, s) == "pending"]


def failed_scenes(state: JobState) -> list[NarrationFailure]:
    found = (current_failure(state, s) for s in state.scenes if voiceover_on(state))
    return [f for f in found if f is not None]


def ready_to_render(state: JobState) -> bool:
    """Approved, and every scene that speaks has its narration: the render may start.

    Approval does not wait for narration (it is queued); the render waits instead.
    """
    return state.status == "in_progress" and not scenes_to_narrate(state)


def narrations_in_order(state: JobState) -> list[Narration]:
    """The current narration of every scene that has one, by scene number."""
    found = (current_narration(state, s) for s in state.scenes)
    return [n for n in found if n is not None]


def adjustments(state: JobState) -> list[str]:
    """What fitting the narration changed (sped up, lengthened), one sentence per scene."""
    return [f"Scene {n.scene_number}: {n.note}" for n in narrations_in_order(state) if n.note]


def prune(
    narrations: dict[int, Narration], scenes: tuple[Scene, ...] | list[Scene]
) -> dict[int, Narration]:
    """The narrations that still fit their scenes; stale ones are dropped from the state."""
    by_number = {s.scene_number: s for s in scenes}
    return {
        number: n
        for number, n in narrations.items()
        if number in by_number and fits(n, by_number[number])
    }


# ---- decisions (called by the job aggregate's decide) ---------------------------------------


def _narrated_scene(state: JobState, number: int, script: str, planned: float) -> Scene | None:
    """The scene a narration command is about, if it still has that script and duration and no
    narration yet; None when the command is stale or already done (a redelivery)."""
    if not voiceover_on(state):
        raise InvalidTransition("the job's voiceover is off", status=state.status)
    if not 1 <= number <= len(state.scenes):
        return None
    scene = state.scenes[number - 1]
    if scene.script != script or scene.duration != planned:
        return None
    if current_narration(state, scene) is not None:
        return None
    return scene


def record_narration(state: JobState, narration: Narration) -> list[Event]:
    scene = _narrated_scene(
        state, narration.scene_number, narration.script, narration.planned_duration
    )
    if scene is None:
        return []
    # Fitting only ever lengthens a scene: speech must never run into the next one.
    duration = round(max(scene.duration, narration.scene_duration), 3)
    total = round(sum(s.duration for s in state.scenes) - scene.duration + duration, 3)
    if total > MAX_TOTAL_SECONDS:
        raise ValidationFailed(
            f"scene {scene.scene_number} would have to last {duration:g} s for its script, "
            f"making the ad {total:g} s, longer than {MAX_TOTAL_SECONDS:g} s; shorten the script",
            [{"field": f"scenes[{scene.scene_number}].script", "message": "too long to speak"}],
        )
    fields = msgspec.structs.asdict(narration)
    fields["scene_duration"] = duration
    return [NarrationSynthesized(**fields, storyboard_seconds=total)]


def fail_narration(
    state: JobState, number: int, script: str, planned: float, *, code: str, message: str
) -> list[Event]:
    scene = _narrated_scene(state, number, script, planned)
    if scene is None:
        return []
    failed = NarrationFailed(scene_number=number, script=scene.script, code=code, message=message)
    first_draft = state.storyboards == 1 and number not in state.revised_scenes
    if state.status == "storyboard_review" and not first_draft:
        # After an edit or a regeneration the reviewer can act on it: the scene shows the error
        # and approval waits until the scene changes and is narrated.
        known = state.narration_failures.get(number)
        return [] if known is not None and known.script == scene.script else [failed]
    # The storyboard as first planned, or an approved one: there is no reviewer action to wait
    # for, so the job fails with the reason, like a first planning that fails.
    return [
        failed,
        JobFailed(
            code="voiceover_failed",
            message=f"the narration of scene {number} could not be made: {message}",
            stage="voiceover",
        ),
    ]
