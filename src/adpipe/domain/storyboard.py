"""The rules a storyboard obeys wherever it comes from (planner, LLM, a user's edit)."""

from __future__ import annotations

from collections.abc import Iterable

from adpipe.errors import ValidationFailed
from adpipe.events.scene import Scene

MIN_SCENES = 3
MAX_SCENES = 7
MIN_TOTAL_SECONDS = 6.0
MAX_TOTAL_SECONDS = 120.0
# Planners round durations; a storyboard within this of the target counts as on target.
DURATION_TOLERANCE = 0.5
# A scene shorter than this cannot show anything readable.
MIN_SCENE_SECONDS = 0.5


def check_total_duration(total: float) -> float:
    total = round(total, 3)
    if not MIN_TOTAL_SECONDS <= total <= MAX_TOTAL_SECONDS:
        raise ValidationFailed(
            f"the ad must last {MIN_TOTAL_SECONDS:g} to {MAX_TOTAL_SECONDS:g} seconds, "
            f"not {total:g}",
            [{"field": "durationSeconds", "message": "must be between 6 and 120"}],
        )
    return total


def check_scene(scene: Scene, asset_ids: Iterable[str]) -> Scene:
    """Checks one scene; answers it with surrounding whitespace trimmed."""
    errors: list[dict[str, str]] = []
    where = f"scenes[{scene.scene_number}]"
    if scene.duration < MIN_SCENE_SECONDS:
        errors.append({"field": f"{where}.duration", "message": "must be at least 0.5 seconds"})
    for name in ("description", "script", "shot_type", "transition"):
        if not getattr(scene, name).strip():
            errors.append({"field": f"{where}.{name}", "message": "must not be empty"})
    known = set(asset_ids)
    unknown = [a for a in scene.assets if a not in known]
    if unknown:
        errors.append(
            {"field": f"{where}.assets", "message": f"not assets of this job: {', '.join(unknown)}"}
        )
    if errors:
        raise ValidationFailed(f"scene {scene.scene_number} is invalid", errors)
    return Scene(
        scene_number=scene.scene_number,
        duration=round(scene.duration, 3),
        description=scene.description.strip(),
        script=scene.script.strip(),
        shot_type=scene.shot_type.strip(),
        transition=scene.transition.strip(),
        assets=list(dict.fromkeys(scene.assets)),
    )


def check_storyboard(scenes: list[Scene], target: float, asset_ids: Iterable[str]) -> list[Scene]:
    """3–7 scenes numbered 1..n whose durations sum to the target (within the tolerance)."""
    if not MIN_SCENES <= len(scenes) <= MAX_SCENES:
        raise ValidationFailed(
            f"a storyboard has {MIN_SCENES} to {MAX_SCENES} scenes, not {len(scenes)}",
            [{"field": "scenes", "message": f"{len(scenes)} scenes"}],
        )
    numbers = [s.scene_number for s in scenes]
    if numbers != list(range(1, len(scenes) + 1)):
        raise ValidationFailed(
            f"scenes must be numbered 1 to {len(scenes)} in order, got {numbers}",
            [{"field": "scenes", "message": "scene numbers are not contiguous"}],
        )
    ids = frozenset(asset_ids)
    checked = [check_scene(s, ids) for s in scenes]
    total = sum(s.duration for s in checked)
    if abs(total - target) > DURATION_TOLERANCE:
        raise ValidationFailed(
            f"scene durations add up to {total:g} s but the ad lasts {target:g} s",
            [{"field": "scenes", "message": "durations do not sum to the target"}],
        )
    return checked
