"""Plan a storyboard or regenerate one scene: the built-in planner without a model, else a
conversation with the LLM that feeds invalid answers back until one passes validation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from adpipe.domain.storyboard import check_total_duration
from adpipe.errors import NotFound
from adpipe.events.base import Usage
from adpipe.events.scene import Scene

from . import builtin, prompt
from .brief import Brief, PlannerAsset, PlannerSettings, audio_ids, visual_ids
from .feedback import asks_for_duration
from .llm import ChatModel, LiteLLMChat
from .plan import InvalidStoryboard, PlanningFailed, ScenePlan, StoryboardPlan, add_usage
from .validate import validate_scene, validate_storyboard

T = TypeVar("T")


async def _converse(
    chat: ChatModel,
    messages: list[prompt.Message],
    response_format: dict[str, Any],
    parse: Callable[[str], T],
    max_attempts: int,
) -> tuple[T, Usage, int]:
    """The first answer `parse` accepts, the usage of every call, and how many answers it took."""
    usage = Usage()
    problems: list[str] = []
    for attempt in range(1, max_attempts + 1):
        try:
            reply = await chat.complete(messages, response_format)
        except PlanningFailed as exc:
            raise PlanningFailed(exc.detail, usage=usage, attempts=attempt - 1) from exc
        usage = add_usage(usage, reply.usage)
        answer = reply.content or ""
        try:
            if not answer.strip():
                raise InvalidStoryboard(["the answer was empty"])
            return parse(answer), usage, attempt
        except InvalidStoryboard as exc:
            problems = exc.problems
            if reply.finish_reason == "length":
                problems = [*problems, "the answer was cut off at the length limit"]
            messages = [*messages, *prompt.repair_messages(answer, problems)]
    raise PlanningFailed(
        f"the model gave no valid answer in {max_attempts} attempts; last problems: "
        + "; ".join(problems),
        usage=usage,
        attempts=max_attempts,
    )


async def plan_storyboard(
    brief: Brief,
    assets: Sequence[PlannerAsset],
    settings: PlannerSettings,
    *,
    feedback: str | None = None,
    previous: list[Scene] | None = None,
    variant: int = 0,
    chat: ChatModel | None = None,
) -> StoryboardPlan:
    """A new storyboard. `previous` and `feedback` come with "regenerate all" and "reject";
    `variant` (say, how many storyboards came before) makes the built-in planner vary; the LLM
    path ignores it, as a model's answers vary anyway.

    Raises `PlanningFailed` when the LLM cannot deliver, `ValidationFailed` for a brief whose
    length is outside 6–120 s. `chat` replaces the litellm client (tests, other ports).
    """
    check_total_duration(brief.duration_seconds)
    visual, audio = visual_ids(assets), audio_ids(assets)
    if settings.model is None:
        scenes = builtin.storyboard(
            brief, assets, feedback=feedback, previous=previous, variant=variant
        )
        # The heuristic must obey the same rules as a model; this is cheap and catches drift.
        checked = validate_storyboard(msgspec.to_builtins({"scenes": scenes}), brief, visual)
        return StoryboardPlan(
            scenes=checked, planner="builtin", model=None, usage=Usage(), attempts=1
        )
    chat = chat or LiteLLMChat(settings)
    scenes, usage, attempts = await _converse(
        chat,
        prompt.storyboard_messages(brief, assets, feedback=feedback, previous=previous),
        prompt.storyboard_format(visual),
        lambda answer: validate_storyboard(answer, brief, visual, audio_ids=audio),
        settings.max_attempts,
    )
    return StoryboardPlan(
        scenes=scenes, planner="llm", model=chat.model, usage=usage, attempts=attempts
    )


async def regenerate_scene(
    brief: Brief,
    assets: Sequence[PlannerAsset],
    scenes: list[Scene],
    scene_number: int,
    settings: PlannerSettings,
    *,
    feedback: str | None,
    variant: int,
    chat: ChatModel | None = None,
) -> ScenePlan:
    """A new scene `scene_number` that fits between its neighbours; the others do not change.

    Its duration stays unless the feedback talks about length ("3 seconds longer", "10 s"); then
    the whole ad must still last 6–120 s. Raises `NotFound` for a scene the storyboard lacks.
    """
    if not 1 <= scene_number <= len(scenes):
        raise NotFound(
            f"scene {scene_number} does not exist; the storyboard has scenes 1 to {len(scenes)}"
        )
    visual, audio = visual_ids(assets), audio_ids(assets)
    old = scenes[scene_number - 1]
    others = round(sum(s.duration for s in scenes) - old.duration, 3)
    if settings.model is None:
        new = builtin.scene(brief, assets, scenes, scene_number, feedback=feedback, variant=variant)
        checked = validate_scene(
            msgspec.to_builtins(new),
            brief,
            visual,
            scene_number=scene_number,
            keep_duration=new.duration,
            others_total=others,
        )
        return ScenePlan(scene=checked, planner="builtin", model=None, usage=Usage(), attempts=1)
    may_change_duration = asks_for_duration(feedback)
    chat = chat or LiteLLMChat(settings)
    scene, usage, attempts = await _converse(
        chat,
        prompt.scene_messages(
            brief,
            assets,
            scenes,
            scene_number,
            feedback=feedback,
            may_change_duration=may_change_duration,
        ),
        prompt.scene_format(visual),
        lambda answer: validate_scene(
            answer,
            brief,
            visual,
            scene_number=scene_number,
            keep_duration=None if may_change_duration else old.duration,
            others_total=others,
            audio_ids=audio,
        ),
        settings.max_attempts,
    )
    return ScenePlan(scene=scene, planner="llm", model=chat.model, usage=usage, attempts=attempts)
