"""Turns a planner's answer (JSON text or decoded data) into valid scenes, or into a list of
problems precise enough to send back to the model.

Lenient where the intent is unambiguous, strict where it is not:
- shot types and transitions are mapped onto the vocabulary's canonical names ("fade-in" ->
  "Fade in"); anything else is a problem;
- scenes are taken in answer order; numbers that increase but do not run 1..n (0,1,2 or 2,4,6) are
  renumbered, numbers out of order or repeated are a problem (which order was meant is unclear);
- durations off the target by at most 0.5 s are absorbed by the last scene, off by at most 15 %
  rescaled proportionally (0.1 s steps), off by more a problem;
- duplicate asset ids in a scene are dropped; ids that are not this job's, or are audio, are
  problems;
- scripts are spoken over their scenes: one up to 30 % over its word budget (`budget.py`) is
  trimmed at a sentence's end, one further over is a problem.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection
from typing import Any

import msgspec

from adpipe.domain.storyboard import MAX_SCENES, MAX_TOTAL_SECONDS, MIN_SCENES, MIN_TOTAL_SECONDS
from adpipe.events.scene import Scene

from . import budget, durations
from .brief import Brief
from .plan import InvalidStoryboard
from .vocabulary import SHOT_TYPES, TRANSITIONS, canonical_shot_type, canonical_transition

# A model that writes essays is not writing a storyboard; the UI shows these fields in cards.
MAX_TEXT_CHARS = 1000
# Below this the last scene absorbs the difference; no one notices half a second.
ABSORB_SECONDS = 0.5
# Up to this share of the target, durations are rescaled; beyond it the model misread the target.
RESCALE_FRACTION = 0.15


class _DraftScene(msgspec.Struct, kw_only=True, rename="camel"):
    """A scene as a model may write it, before any rule is applied."""

    scene_number: int | None = None
    duration: float
    description: str
    script: str
    shot_type: str
    transition: str
    assets: list[str] = []


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def _decode(raw: object, problems: list[str]) -> Any:
    if isinstance(raw, bytes | bytearray | str):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
        # Models asked for JSON still wrap it in a markdown fence now and then.
        if fenced := _FENCE.match(text):
            text = fenced.group(1)
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            problems.append(f"the answer is not valid JSON ({exc})")
            return None
    return msgspec.to_builtins(raw)


def _draft(item: Any, label: str, problems: list[str]) -> _DraftScene | None:
    try:
        return msgspec.convert(item, _DraftScene, strict=False)
    except msgspec.ValidationError as exc:
        problems.append(f"{label}: {str(exc).replace('`$', '`' + label)}")
        return None


def _check_fields(
    draft: _DraftScene,
    label: str,
    asset_ids: Collection[str],
    audio_ids: Collection[str],
    problems: list[str],
) -> dict[str, Any]:
    """Checks everything of a scene but its number and duration; answers the cleaned fields."""
    description, script = draft.description.strip(), draft.script.strip()
    for name, text in (("description", description), ("script", script)):
        if not text:
            problems.append(f"{label}: {name} is empty")
        elif len(text) > MAX_TEXT_CHARS:
            problems.append(
                f"{label}: {name} has {len(text)} characters; keep it under {MAX_TEXT_CHARS}"
            )
    shot_type = canonical_shot_type(draft.shot_type)
    if shot_type is None:
        problems.append(
            f"{label}: shotType {draft.shot_type!r} is not one of {', '.join(SHOT_TYPES)}"
        )
    transition = canonical_transition(draft.transition)
    if transition is None:
        problems.append(
            f"{label}: transition {draft.transition!r} is not one of {', '.join(TRANSITIONS)}"
        )
    assets = list(dict.fromkeys(a.strip() for a in draft.assets))
    for asset in assets:
        if asset in audio_ids:
            problems.append(
                f"{label}: asset {asset!r} is audio; scenes show only image and video assets"
            )
        elif asset not in asset_ids:
            known = ", ".join(asset_ids) or "none; leave assets empty"
            problems.append(f"{label}: asset {asset!r} is not one of this job's assets ({known})")
    return {
        "description": description,
        "script": script,
        "shot_type": shot_type or "",
        "transition": transition or "",
        "assets": assets,
    }


def _check_duration(duration: float, label: str, problems: list[str]) -> None:
    if not math.isfinite(duration) or duration < durations.MIN_SCENE_SECONDS:
        problems.append(
            f"{label}: duration {duration:g} s is too short; every scene needs at "
            f"least {durations.MIN_SCENE_SECONDS:g} s"
        )


def _fit_total(found: list[float], target: float, problems: list[str]) -> list[float]:
    total = sum(found)
    off = total - target
    if abs(off) <= 0.001:
        return found
    if abs(off) <= ABSORB_SECONDS and found[-1] - off >= durations.MIN_SCENE_SECONDS:
        return [*found[:-1], round(found[-1] - off, 3)]
    if abs(off) <= RESCALE_FRACTION * target:
        fitted = durations.split(target, found)
        if min(fitted) >= durations.MIN_SCENE_SECONDS:
            return fitted
    problems.append(
        f"the scene durations add up to {total:g} s; they must add up to the target of {target:g} s"
    )
    return found


def _fit_script(script: str, duration: float, label: str, problems: list[str]) -> str:
    excess = budget.over_budget(script, duration)
    if not excess:
        return script
    allowed = budget.word_budget(duration)
    if excess <= budget.TRIM_FRACTION * allowed:
        return budget.trim(script, duration)
    problems.append(
        f"{label}: the script has {allowed + excess} words; spoken as voiceover, a "
        f"{duration:g} s scene holds at most {allowed} ({budget.WORDS_PER_SECOND_BUDGET:g} "
        "words per second, less 1)"
    )
    return script


def validate_storyboard(
    raw: object,
    brief: Brief,
    asset_ids: Collection[str],
    *,
    audio_ids: Collection[str] = (),
) -> list[Scene]:
    """Valid scenes from `raw` (JSON text/bytes or decoded data shaped `{"scenes": [...]}`).

    Raises `InvalidStoryboard` listing every problem found. `asset_ids` are the ids scenes may
    show; `audio_ids` only improve the message when a model puts a soundtrack into a scene.
    """
    problems: list[str] = []
    data = _decode(raw, problems)
    if problems:
        raise InvalidStoryboard(problems)
    items = data.get("scenes") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidStoryboard(['the answer must be a JSON object with a "scenes" array'])
    if not MIN_SCENES <= len(items) <= MAX_SCENES:
        problems.append(
            f"the storyboard has {len(items)} scenes; it needs {MIN_SCENES} to {MAX_SCENES}"
        )
    drafts = [_draft(item, f"scene {i}", problems) for i, item in enumerate(items, start=1)]
    fields: list[dict[str, Any]] = []
    for i, draft in enumerate(drafts, start=1):
        if draft is not None:
            _check_duration(draft.duration, f"scene {i}", problems)
            fields.append(_check_fields(draft, f"scene {i}", asset_ids, audio_ids, problems))
    if problems:
        raise InvalidStoryboard(problems)
    complete = [d for d in drafts if d is not None]
    numbers = [d.scene_number for d in complete if d.scene_number is not None]
    if len(numbers) == len(complete) and any(b <= a for a, b in itertools.pairwise(numbers)):
        problems.append(
            f"scene numbers must run 1 to {len(complete)} in order; got "
            f"{', '.join(map(str, numbers))}"
        )
    fitted = _fit_total([d.duration for d in complete], brief.duration_seconds, problems)
    if problems:
        raise InvalidStoryboard(problems)
    for n, (duration, scene_fields) in enumerate(zip(fitted, fields, strict=True), start=1):
        scene_fields["script"] = _fit_script(
            scene_fields["script"], duration, f"scene {n}", problems
        )
    if problems:
        raise InvalidStoryboard(problems)
    return [
        Scene(scene_number=n, duration=d, **f)
        for n, (d, f) in enumerate(zip(fitted, fields, strict=True), start=1)
    ]


def validate_scene(
    raw: object,
    brief: Brief,
    asset_ids: Collection[str],
    *,
    scene_number: int,
    keep_duration: float | None,
    others_total: float,
    audio_ids: Collection[str] = (),
) -> Scene:
    """One regenerated scene from `raw` (a scene object, or `{"scene": {...}}`).

    It becomes scene `scene_number` whatever number the model wrote. With `keep_duration` the
    model's duration is ignored; without, it must keep the whole ad (`others_total` plus this scene)
    within the allowed length.
    """
    problems: list[str] = []
    data = _decode(raw, problems)
    if problems:
        raise InvalidStoryboard(problems)
    if isinstance(data, dict) and isinstance(data.get("scene"), dict):
        data = data["scene"]
    label = f"scene {scene_number}"
    draft = _draft(data, label, problems)
    if draft is None:
        raise InvalidStoryboard(problems)
    fields = _check_fields(draft, label, asset_ids, audio_ids, problems)
    duration = keep_duration if keep_duration is not None else round(draft.duration, 3)
    if keep_duration is None:
        _check_duration(duration, label, problems)
        # Rounded to the millisecond: 101.7 + 18.3 is 120.00000000000001 in floating point.
        total = round(others_total + duration, 3)
        if not problems and not MIN_TOTAL_SECONDS <= total <= MAX_TOTAL_SECONDS:
            problems.append(
                f"{label}: a duration of {duration:g} s makes the ad {total:g} s long; "
                f"it must stay between {MIN_TOTAL_SECONDS:g} and "
                f"{MAX_TOTAL_SECONDS:g} s"
            )
    if not problems:
        fields["script"] = _fit_script(fields["script"], duration, label, problems)
    if problems:
        raise InvalidStoryboard(problems)
    return Scene(scene_number=scene_number, duration=duration, **fields)
