"""The LLM path end to end: litellm over real HTTP to a scripted OpenAI-compatible server on
127.0.0.1 (below), checking what was asked and what came back."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adpipe.events.scene import Scene
from adpipe.services.planner.engine import (
    Brief,
    LiteLLMChat,
    PlannerAsset,
    PlannerSettings,
    PlanningFailed,
    plan_storyboard,
    regenerate_scene,
)
from adpipe.services.planner.engine.prompt import SYSTEM_PROMPT
from testkit.llm import COMPLETION_TOKENS, PROMPT_TOKENS, FakeOpenAI, completion, error, serve

# ---- the planner against it ---------------------------------------------------------------------

MODEL = "openai/gpt-4o-mini"

GOOD: dict[str, Any] = {
    "scenes": [
        {
            "sceneNumber": 1,
            "duration": 6.0,
            "description": "Wide shot of a commuter checking the watch",
            "script": "Life moves fast in the city.",
            "shotType": "Wide",
            "transition": "Fade in",
            "assets": ["asset-clip"],
        },
        {
            "sceneNumber": 2,
            "duration": 8.0,
            "description": "Close-up of the display",
            "script": "Stay connected to what matters most.",
            "shotType": "Close-up",
            "transition": "Cut",
            "assets": ["asset-hero"],
        },
        {
            "sceneNumber": 3,
            "duration": 10.0,
            "description": "Montage of the watch through the day",
            "script": "Fitness tracking. Message alerts. All in one.",
            "shotType": "Montage",
            "transition": "Fast cuts",
            "assets": ["asset-clip", "asset-hero"],
        },
        {
            "sceneNumber": 4,
            "duration": 6.0,
            "description": "Product shot with the CTA",
            "script": "Buy Now at SmartWatch.com",
            "shotType": "Product feature",
            "transition": "Fade out",
            "assets": ["asset-hero"],
        },
    ]
}


def good_with(**changes: Any) -> dict[str, Any]:
    """GOOD with fields of its second scene changed."""
    answer = copy.deepcopy(GOOD)
    answer["scenes"][1].update(changes)
    return answer


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAI]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    async with serve() as fake:
        yield fake


def settings_for(server: FakeOpenAI, **overrides: Any) -> PlannerSettings:
    values: dict[str, Any] = {
        "model": MODEL,
        "api_base": server.url,
        "retry_base_delay": 0.001,
        "timeout_seconds": 10.0,
    }
    values.update(overrides)
    return PlannerSettings(**values)


class Sleeps:
    """Records the backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_a_good_answer_becomes_the_storyboard(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion(GOOD))
    plan = await plan_storyboard(brief, assets, settings_for(server))

    assert plan.planner == "llm" and plan.model == MODEL and plan.attempts == 1
    assert [s.script for s in plan.scenes][1] == "Stay connected to what matters most."
    assert [s.duration for s in plan.scenes] == [6.0, 8.0, 10.0, 6.0]
    assert plan.scenes[2].assets == ["asset-clip", "asset-hero"]
    assert plan.usage.prompt_tokens == PROMPT_TOKENS
    assert plan.usage.completion_tokens == COMPLETION_TOKENS
    assert plan.usage.cost > 0

    (request,) = server.requests
    assert server.paths == ["/v1/chat/completions"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test-dummy"
    assert request["model"] == "gpt-4o-mini"
    assert request["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    prompt = request["messages"][1]["content"]
    for expected in (
        "Product: Smart Watch",
        "Target Audience: Tech-savvy professionals aged 25-40",
        "Key Message: Stay connected",
        "Call to Action: Buy Now at SmartWatch.com",
        "Style: Modern and sleek",
        "Tone: Energetic and inspiring",
        "urban environment",
        "Total duration: 30 seconds",
        "3-7 scenes",
        "id: asset-hero",
        "id: asset-clip",
        "1280x720",
        "12.5 s",
        "id: asset-jingle",
        "soundtrack only",
    ):
        assert expected in prompt, expected
    response_format = request["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "storyboard"
    assert response_format["json_schema"]["strict"] is True
    scene_schema = response_format["json_schema"]["schema"]["properties"]["scenes"]["items"]
    assert set(scene_schema["required"]) == {
        "sceneNumber",
        "duration",
        "description",
        "script",
        "shotType",
        "transition",
        "assets",
    }
    # Only pictures may be assigned: the soundtrack is not among the allowed ids.
    assert scene_schema["properties"]["assets"]["items"]["enum"] == ["asset-hero", "asset-clip"]


async def test_invalid_json_is_fed_back_and_the_next_answer_used(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion('{"scenes": [{"sceneNumber": 1,'), completion(GOOD))
    plan = await plan_storyboard(brief, assets, settings_for(server))

    assert plan.attempts == 2
    assert len(plan.scenes) == 4
    assert plan.usage.prompt_tokens == 2 * PROMPT_TOKENS
    assert plan.usage.completion_tokens == 2 * COMPLETION_TOKENS
    single = await _single_call_cost(server, brief, assets)
    assert plan.usage.cost == pytest.approx(2 * single)

    follow_up = server.requests[1]["messages"]
    assert follow_up[:2] == server.requests[0]["messages"]
    assert follow_up[2] == {"role": "assistant", "content": '{"scenes": [{"sceneNumber": 1,'}
    assert follow_up[3]["role"] == "user"
    assert "not valid JSON" in follow_up[3]["content"]


async def _single_call_cost(server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]) -> float:
    server.play(completion(GOOD))
    return (await plan_storyboard(brief, assets, settings_for(server))).usage.cost


async def test_unknown_asset_ids_are_named_in_the_follow_up(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion(good_with(assets=["asset-from-elsewhere"])), completion(GOOD))
    plan = await plan_storyboard(brief, assets, settings_for(server))

    assert plan.attempts == 2
    assert {a for s in plan.scenes for a in s.assets} == {"asset-hero", "asset-clip"}
    follow_up = server.user_prompts()[1]
    assert "scene 2: asset 'asset-from-elsewhere' is not one of this job's assets" in follow_up
    assert "asset-hero, asset-clip" in follow_up


async def test_unknown_asset_ids_forever_fail_with_the_last_problems(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion(good_with(assets=["asset-of-another-job"])), repeat_last=True)
    with pytest.raises(PlanningFailed) as failed:
        await plan_storyboard(brief, assets, settings_for(server, max_attempts=3))

    assert len(server.requests) == 3
    assert "no valid answer in 3 attempts" in failed.value.detail
    assert "asset 'asset-of-another-job' is not one of this job's assets" in failed.value.detail
    assert failed.value.attempts == 3
    assert failed.value.usage.prompt_tokens == 3 * PROMPT_TOKENS
    assert failed.value.usage.cost > 0
    # Each follow-up carries the whole conversation so far.
    assert [len(r["messages"]) for r in server.requests] == [2, 4, 6]


async def test_two_scenes_are_too_few(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    two = {
        "scenes": [
            dict(GOOD["scenes"][0], duration=15.0),
            dict(GOOD["scenes"][3], sceneNumber=2, duration=15.0),
        ]
    }
    server.play(completion(two), completion(GOOD))
    plan = await plan_storyboard(brief, assets, settings_for(server))

    assert plan.attempts == 2 and len(plan.scenes) == 4
    assert "the storyboard has 2 scenes; it needs 3 to 7" in server.user_prompts()[1]


async def test_a_rate_limit_is_waited_out_as_retry_after_asks(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(error(429, **{"Retry-After": "0.25"}), completion(GOOD))
    sleeps = Sleeps()
    settings = settings_for(server)
    plan = await plan_storyboard(brief, assets, settings, chat=LiteLLMChat(settings, sleep=sleeps))

    assert len(server.requests) == 2
    assert sleeps.delays == [0.25]
    # Provider retries are not answers: one answer was read, and only it was billed.
    assert plan.attempts == 1
    assert plan.usage.prompt_tokens == PROMPT_TOKENS


async def test_a_server_error_forever_fails_after_backing_off(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(error(500), repeat_last=True)
    sleeps = Sleeps()
    settings = settings_for(server, provider_retries=3, retry_base_delay=0.1)
    with pytest.raises(PlanningFailed) as failed:
        await plan_storyboard(brief, assets, settings, chat=LiteLLMChat(settings, sleep=sleeps))

    assert len(server.requests) == 4
    assert failed.value.detail.startswith("LLM provider unavailable: ")
    assert "scripted 500" in failed.value.detail
    assert "gave up after 4 tries" in failed.value.detail
    assert failed.value.attempts == 0 and failed.value.usage.prompt_tokens == 0
    # Exponential backoff with jitter: each delay in [half, all] of 0.1 * 2**n.
    assert len(sleeps.delays) == 3
    for n, delay in enumerate(sleeps.delays):
        assert 0.05 * 2**n <= delay <= 0.1 * 2**n


async def test_a_server_error_forever_really_sleeps_briefly(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(error(503), repeat_last=True)
    with pytest.raises(PlanningFailed, match="LLM provider unavailable"):
        await plan_storyboard(brief, assets, settings_for(server, provider_retries=2))
    assert len(server.requests) == 3


async def test_a_timeout_is_retried(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    slow = completion(GOOD)
    server.play(type(slow)(content=slow.content, delay=2.0), completion(GOOD))
    plan = await plan_storyboard(brief, assets, settings_for(server, timeout_seconds=0.3))

    assert len(server.requests) == 2
    assert plan.attempts == 1 and len(plan.scenes) == 4


async def test_a_rejected_request_is_not_retried(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(error(401), repeat_last=True)
    with pytest.raises(PlanningFailed, match="LLM request rejected"):
        await plan_storyboard(brief, assets, settings_for(server))
    assert len(server.requests) == 1


async def test_the_endpoint_can_come_from_litellms_own_environment(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", server.url)
    server.play(completion(GOOD))
    plan = await plan_storyboard(brief, assets, settings_for(server, api_base=None))
    assert len(plan.scenes) == 4 and len(server.requests) == 1


async def test_rejecting_with_feedback_sends_the_previous_storyboard(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    previous = [
        Scene(
            scene_number=i,
            duration=7.5,
            description=f"old scene {i}",
            script=f"old line {i}",
            shot_type="Wide",
            transition="Cut",
        )
        for i in range(1, 5)
    ]
    server.play(completion(GOOD))
    plan = await plan_storyboard(
        brief,
        assets,
        settings_for(server),
        feedback="Too corporate, make it playful",
        previous=previous,
    )

    assert len(plan.scenes) == 4
    prompt = server.user_prompts()[0]
    assert 'Reviewer feedback: "Too corporate, make it playful"' in prompt
    assert '"description":"old scene 3"' in prompt and "Previous storyboard" in prompt


def _storyboard() -> list[Scene]:
    return [
        Scene(
            scene_number=s["sceneNumber"],
            duration=s["duration"],
            description=s["description"],
            script=s["script"],
            shot_type=s["shotType"],
            transition=s["transition"],
            assets=s["assets"],
        )
        for s in GOOD["scenes"]
    ]


NEW_SCENE_2: dict[str, Any] = {
    "sceneNumber": 7,
    "duration": 11.0,
    "description": "Extreme close-up of a notification lighting up",
    "script": "Never miss what matters.",
    "shotType": "extreme close-up",
    "transition": "dissolve",
    "assets": ["asset-hero"],
}


async def test_regenerating_a_scene_keeps_its_number_and_duration(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion(NEW_SCENE_2))
    scenes = _storyboard()
    plan = await regenerate_scene(
        brief, assets, scenes, 2, settings_for(server), feedback="More energetic", variant=1
    )

    assert plan.planner == "llm" and plan.attempts == 1 and plan.usage.cost > 0
    assert plan.scene.scene_number == 2
    assert plan.scene.duration == 8.0  # the model's 11 s was not asked for
    assert plan.scene.script == "Never miss what matters."
    assert (plan.scene.shot_type, plan.scene.transition) == ("Extreme close-up", "Crossfade")

    request = server.requests[0]
    assert request["response_format"]["json_schema"]["name"] == "scene"
    prompt = server.user_prompts()[0]
    assert 'Reviewer feedback on scene 2: "More energetic"' in prompt
    assert "Rewrite scene 2 only" in prompt and "Keep its duration of 8 seconds" in prompt
    for scene in scenes:  # the whole storyboard, so the new scene fits its neighbours
        assert json.dumps(scene.script)[1:-1] in prompt


async def test_regenerating_a_scene_may_change_its_length_when_asked(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion(NEW_SCENE_2))
    plan = await regenerate_scene(
        brief,
        assets,
        _storyboard(),
        2,
        settings_for(server),
        feedback="make it 3 seconds longer",
        variant=0,
    )
    assert plan.scene.duration == 11.0
    assert "change that only as the feedback asks" in server.user_prompts()[0]


async def test_a_regenerated_scene_too_long_for_the_ad_is_sent_back(
    server: FakeOpenAI, brief: Brief, assets: list[PlannerAsset]
) -> None:
    server.play(completion(dict(NEW_SCENE_2, duration=200.0)), completion(NEW_SCENE_2))
    plan = await regenerate_scene(
        brief,
        assets,
        _storyboard(),
        2,
        settings_for(server),
        feedback="much longer please, 200 seconds",
        variant=0,
    )
    assert plan.attempts == 2 and plan.scene.duration == 11.0
    assert "makes the ad 222 s long" in server.user_prompts()[1]
