"""The LLM conversation: the seed's system and user prompts, the JSON schemas answers must follow,
and the follow-up that feeds validation problems back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from adpipe.events.scene import Scene

from .brief import Brief, PlannerAsset
from .budget import WORDS_PER_SECOND_BUDGET, word_budget
from .durations import MIN_SCENE_SECONDS
from .vocabulary import SHOT_TYPES, TRANSITIONS

Message = dict[str, str]

# The seed's system prompt, then the rules our validator enforces, so the model knows them upfront.
SYSTEM_PROMPT = (
    "You are a professional video advertising creative director. Generate a compelling\n"
    "video ad storyboard with 3-7 scenes based on the provided context.\n\n"
    "Answer with JSON only, exactly in the requested shape. Use only the asset ids you are "
    "given, and only the listed shot types and transitions. Scene durations are in seconds "
    "and must add up to the requested total duration."
)


def _scene_schema(asset_ids: Sequence[str]) -> dict[str, Any]:
    asset_item: dict[str, Any] = {"type": "string"}
    if asset_ids:
        asset_item["enum"] = list(asset_ids)
    properties: dict[str, Any] = {
        "sceneNumber": {"type": "integer"},
        "duration": {"type": "number"},
        "description": {"type": "string"},
        "script": {"type": "string"},
        "shotType": {"type": "string", "enum": list(SHOT_TYPES)},
        "transition": {"type": "string", "enum": list(TRANSITIONS)},
        "assets": {"type": "array", "items": asset_item},
    }
    # OpenAI's strict mode wants every property required and no others allowed.
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def storyboard_format(asset_ids: Sequence[str]) -> dict[str, Any]:
    """The `response_format` for a whole storyboard: the seed's `{"scenes": [...]}`."""
    schema = {
        "type": "object",
        "properties": {"scenes": {"type": "array", "items": _scene_schema(asset_ids)}},
        "required": ["scenes"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "storyboard", "schema": schema, "strict": True},
    }


def scene_format(asset_ids: Sequence[str]) -> dict[str, Any]:
    """The `response_format` for one regenerated scene."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "scene", "schema": _scene_schema(asset_ids), "strict": True},
    }


def _asset_line(number: int, asset: PlannerAsset) -> str:
    facts = [asset.type, f"id: {asset.id}"]
    if asset.width and asset.height:
        facts.append(f"{asset.width}x{asset.height}")
    if asset.duration is not None:
        facts.append(f"{asset.duration:g} s")
    line = f"{number}. {asset.name or 'Untitled'} ({', '.join(facts)})"
    if asset.type == "audio":
        line += " - soundtrack only, never assign it to a scene"
    return line


def _context(brief: Brief, assets: Sequence[PlannerAsset]) -> str:
    elements = ", ".join(brief.visual_elements) or "(none given)"
    if assets:
        listing = "\n".join(_asset_line(i, a) for i, a in enumerate(assets, start=1))
    else:
        listing = (
            "(none: design scenes from text, colour and typography, and leave every "
            "scene's assets empty)"
        )
    return (
        f"Product: {brief.product}\n"
        f"Target Audience: {brief.target_audience}\n"
        f"Key Message: {brief.key_message}\n"
        f"Call to Action: {brief.call_to_action}\n\n"
        "Creative Direction:\n"
        f"- Style: {brief.style}\n"
        f"- Tone: {brief.tone or '(not specified)'}\n"
        f"- Visual Elements: {elements}\n\n"
        f"Available Assets:\n{listing}"
    )


def _requirements(brief: Brief) -> str:
    return (
        "Requirements:\n"
        f"- Total duration: {brief.duration_seconds:g} seconds (scene durations must add up to "
        "exactly this)\n"
        "- 3-7 scenes, numbered 1 to n in order\n"
        f"- Aspect ratio: {brief.aspect_ratio}\n"
        "- Each scene should have:\n"
        f"  * Duration (seconds, at least {MIN_SCENE_SECONDS:g})\n"
        "  * Visual description\n"
        "  * Script/voiceover text, spoken over the scene: at most "
        f"{WORDS_PER_SECOND_BUDGET:g} words per second of the scene, less 1 word "
        f"(a 6-second scene: {word_budget(6.0)} words at most)\n"
        f"  * Shot type (one of: {', '.join(SHOT_TYPES)})\n"
        f"  * Transition type (one of: {', '.join(TRANSITIONS)})\n"
        "  * Asset assignment (which assets to use, by id; images and videos only)"
    )


def _storyboard_json(scenes: Sequence[Scene]) -> str:
    return msgspec.json.encode({"scenes": list(scenes)}).decode()


def storyboard_messages(
    brief: Brief,
    assets: Sequence[PlannerAsset],
    *,
    feedback: str | None = None,
    previous: Sequence[Scene] | None = None,
) -> list[Message]:
    parts = [
        f"Create a video ad storyboard for:\n\n{_context(brief, assets)}",
        _requirements(brief),
    ]
    if previous:
        parts.append(f"Previous storyboard:\n{_storyboard_json(previous)}")
    if feedback:
        parts.append(
            f'Reviewer feedback: "{feedback}"\nCreate a new storyboard that addresses '
            "this feedback."
        )
    elif previous:
        parts.append("Create a fresh alternative that clearly differs from the previous one.")
    parts.append(
        'Answer as JSON: {"scenes": [{"sceneNumber", "duration", "description", '
        '"script", "shotType", "transition", "assets"}]}'
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def scene_messages(
    brief: Brief,
    assets: Sequence[PlannerAsset],
    scenes: Sequence[Scene],
    number: int,
    *,
    feedback: str | None,
    may_change_duration: bool,
) -> list[Message]:
    old = scenes[number - 1]
    neighbours = " and ".join(
        f"scene {n}" for n in (number - 1, number + 1) if 1 <= n <= len(scenes)
    )
    spoken = (
        f"Its script is spoken as voiceover: at most {word_budget(old.duration)} words for "
        f"{old.duration:g} seconds ({WORDS_PER_SECOND_BUDGET:g} words per second, less 1)."
    )
    if may_change_duration:
        timing = (
            f"It lasts {old.duration:g} seconds now; change that only as the feedback asks "
            f"(at least {MIN_SCENE_SECONDS:g} seconds)."
        )
    else:
        timing = f"Keep its duration of {old.duration:g} seconds."
    parts = [
        f"This video ad storyboard is being reviewed:\n\n{_context(brief, assets)}",
        f"Current storyboard ({brief.duration_seconds:g} seconds in total):\n"
        f"{_storyboard_json(scenes)}",
        f"Rewrite scene {number} only. The new scene must flow from and into {neighbours}, "
        f"and differ from the current scene {number}. {timing} {spoken}",
    ]
    if feedback:
        parts.append(f'Reviewer feedback on scene {number}: "{feedback}"')
    parts.append(
        f"Shot type one of: {', '.join(SHOT_TYPES)}. Transition one of: {', '.join(TRANSITIONS)}. "
        "Assets: ids from the list above, images and videos only.\n"
        f'Answer as JSON: {{"sceneNumber": {number}, "duration", "description", "script", '
        '"shotType", "transition", "assets"}'
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def repair_messages(answer: str, problems: Sequence[str]) -> list[Message]:
    """The model's invalid answer and what is wrong with it, to append to the conversation."""
    listed = "\n".join(f"- {p}" for p in problems)
    return [
        {"role": "assistant", "content": answer},
        {
            "role": "user",
            "content": f"That answer is not valid:\n{listed}\n\nAnswer again with "
            "the corrected JSON only.",
        },
    ]
