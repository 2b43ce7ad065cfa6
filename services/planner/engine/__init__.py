"""The planning engine: storyboards and regenerated scenes from an LLM (litellm, JSON schema,
validated and repaired) or from the built-in heuristic. Knows nothing of NATS or Postgres."""

from __future__ import annotations

from adpipe.events.base import Usage

from .brief import Brief, PlannerAsset, PlannerSettings
from .llm import ChatModel, LiteLLMChat, Reply
from .plan import InvalidStoryboard, PlanningFailed, ScenePlan, StoryboardPlan
from .planning import plan_storyboard, regenerate_scene
from .validate import validate_scene, validate_storyboard
from .vocabulary import SHOT_TYPES, TRANSITIONS

__all__ = [
    "SHOT_TYPES",
    "TRANSITIONS",
    "Brief",
    "ChatModel",
    "InvalidStoryboard",
    "LiteLLMChat",
    "PlannerAsset",
    "PlannerSettings",
    "PlanningFailed",
    "Reply",
    "ScenePlan",
    "StoryboardPlan",
    "Usage",
    "plan_storyboard",
    "regenerate_scene",
    "validate_scene",
    "validate_storyboard",
]
