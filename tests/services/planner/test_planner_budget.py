"""Scripts fit their scenes when spoken: the built-in planner writes them within the words per
second budget, the LLM is told the budget, a slightly long answer is trimmed and a far too long
one is sent back."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpipe.services.planner.engine import (
    Brief,
    InvalidStoryboard,
    PlannerAsset,
    PlannerSettings,
    builtin,
    plan_storyboard,
    validate_storyboard,
)
from adpipe.voices import word_budget
from testkit.llm import FakeOpenAI, completion, serve

LONG = st.text(alphabet=st.sampled_from("abc ."), min_size=0, max_size=400)
BRIEFS = st.builds(
    Brief,
    product=st.sampled_from(["Smart Watch", "The Extraordinarily Comfortable Running Shoe X"]),
    target_audience=LONG,
    key_message=LONG,
    call_to_action=LONG,
    style=st.just("Modern"),
    tone=st.sampled_from(["", "energetic", "calm"]),
    visual_elements=st.just([]),
    duration_seconds=st.floats(6, 120),
    aspect_ratio=st.just("16:9"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    brief=BRIEFS,
    feedback=st.sampled_from([None, "longer", "more scenes", "fewer scenes"]),
    variant=st.integers(0, 20),
)
def test_builtin_scripts_fit_their_scenes(brief: Brief, feedback: str | None, variant: int) -> None:
    scenes = builtin.storyboard(brief, [], feedback=feedback, variant=variant)
    for scene in scenes:
        assert len(scene.script.split()) <= word_budget(scene.duration), scene
        assert scene.script.strip()
    again = builtin.scene(brief, [], scenes, 2, feedback="longer", variant=variant)
    assert len(again.script.split()) <= word_budget(again.duration)


STORYBOARD: dict[str, Any] = {
    "scenes": [
        {
            "sceneNumber": n,
            "duration": 6.0,
            "description": "A scene",
            "script": "Life moves fast in the city.",
            "shotType": "Wide",
            "transition": "Cut",
            "assets": [],
        }
        for n in (1, 2, 3)
    ]
}


def with_script(script: str) -> dict[str, Any]:
    answer = copy.deepcopy(STORYBOARD)
    answer["scenes"][1]["script"] = script
    return answer


def brief_of(seconds: float) -> Brief:
    return Brief(
        product="Smart Watch",
        target_audience="Young professionals",
        key_message="Stay connected",
        call_to_action="Buy Now",
        style="Modern",
        duration_seconds=seconds,
    )


def test_a_script_a_little_too_long_is_trimmed_at_a_sentence() -> None:
    # 6 s scenes hold 14 words; this has 16, and a full sentence ends at word 12.
    script = "Stay connected to what matters most, all day and every day. Buy it now, really."
    scenes = validate_storyboard(with_script(script), brief_of(18.0), [])
    assert scenes[1].script == "Stay connected to what matters most, all day and every day."


def test_a_script_far_too_long_is_a_problem_naming_the_budget() -> None:
    script = " ".join(["word"] * 30)
    with pytest.raises(InvalidStoryboard) as invalid:
        validate_storyboard(with_script(script), brief_of(18.0), [])
    (problem,) = invalid.value.problems
    assert "scene 2" in problem and "30 words" in problem and "at most 14" in problem


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAI]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    async with serve() as fake:
        yield fake


async def test_the_model_is_told_the_budget_and_asked_again_when_far_over(
    server: FakeOpenAI,
) -> None:
    server.play(completion(with_script(" ".join(["word"] * 30))), completion(STORYBOARD))
    settings = PlannerSettings(
        model="openai/gpt-4o-mini",
        api_base=server.url,
        retry_base_delay=0.001,
        timeout_seconds=10.0,
    )
    assets: list[PlannerAsset] = []

    plan = await plan_storyboard(brief_of(18.0), assets, settings)

    assert plan.attempts == 2
    assert [s.script for s in plan.scenes] == ["Life moves fast in the city."] * 3
    first_prompt = server.user_prompts()[0]
    assert "words per second" in first_prompt and "14 words at most" in first_prompt
    follow_up = server.user_prompts()[1]
    assert "holds at most 14" in follow_up
    assert msgspec.json.decode(server.requests[1]["messages"][2]["content"]) == with_script(
        " ".join(["word"] * 30)
    )
