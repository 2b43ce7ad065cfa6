"""What the planner answers (a storyboard or one scene, with who planned it and what it cost) and
how it fails."""

from __future__ import annotations

from typing import Literal

import msgspec

from adpipe.errors import AdpipeError, ValidationFailed
from adpipe.events.base import Usage
from adpipe.events.scene import Scene

PlannerKind = Literal["builtin", "llm"]


def add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        cost=a.cost + b.cost,
    )


class StoryboardPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A valid storyboard; `usage` sums every LLM call it took, `attempts` the answers it read."""

    scenes: list[Scene]
    planner: PlannerKind
    model: str | None
    usage: Usage
    attempts: int


class ScenePlan(msgspec.Struct, frozen=True, kw_only=True):
    """One regenerated scene, numbered as the scene it replaces."""

    scene: Scene
    planner: PlannerKind
    model: str | None
    usage: Usage
    attempts: int


class PlanningFailed(AdpipeError):
    """No valid plan: the provider stayed down, refused the request, or kept answering invalidly.

    `usage` still counts the calls that were made, so a failed job's cost is reported too.
    """

    status_code = 503
    title = "Planning failed"

    def __init__(self, detail: str, *, usage: Usage | None = None, attempts: int = 0) -> None:
        super().__init__(detail)
        self.usage = usage or Usage()
        self.attempts = attempts


class InvalidStoryboard(ValidationFailed):
    """An answer breaks the storyboard rules; `problems` are sentences a model (or a person) can
    act on."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "the storyboard is invalid: " + "; ".join(problems),
            [{"field": "scenes", "message": p} for p in problems],
        )
        self.problems = problems
