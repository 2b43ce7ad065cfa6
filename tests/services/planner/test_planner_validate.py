"""What the planner accepts from a model, what it repairs, and how it explains a refusal."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from adpipe.errors import ValidationFailed
from adpipe.services.planner.engine import (
    SHOT_TYPES,
    TRANSITIONS,
    Brief,
    InvalidStoryboard,
    PlannerSettings,
    validate_scene,
    validate_storyboard,
)
from adpipe.services.planner.engine.vocabulary import canonical_shot_type, canonical_transition

IDS = ["img-1", "vid-1"]


def scene(number: int, duration: float, **changes: Any) -> dict[str, Any]:
    base = {
        "sceneNumber": number,
        "duration": duration,
        "description": f"shot {number}",
        "script": f"line {number}",
        "shotType": "Wide",
        "transition": "Cut",
        "assets": ["img-1"],
    }
    base.update(changes)
    return base


def board(*durations: float) -> dict[str, Any]:
    return {"scenes": [scene(i, d) for i, d in enumerate(durations, start=1)]}


def problems(raw: Any, brief: Brief, ids: list[str] = IDS, **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidStoryboard) as invalid:
        validate_storyboard(raw, brief, ids, **kwargs)
    return invalid.value.problems


def test_a_valid_answer_passes_unchanged(brief: Brief) -> None:
    scenes = validate_storyboard(msgspec.json.encode(board(6, 8, 10, 6)), brief, IDS)
    assert [s.duration for s in scenes] == [6, 8, 10, 6]
    assert [s.scene_number for s in scenes] == [1, 2, 3, 4]
    assert scenes[0].assets == ["img-1"]


def test_the_error_is_a_validation_failure_listing_every_problem(brief: Brief) -> None:
    raw = board(6, 8, 10, 6)
    raw["scenes"][0]["script"] = "  "
    raw["scenes"][2]["shotType"] = "Dutch angle"
    with pytest.raises(ValidationFailed) as failed:
        validate_storyboard(raw, brief, IDS)
    assert isinstance(failed.value, InvalidStoryboard)
    assert failed.value.problems == [
        "scene 1: script is empty",
        f"scene 3: shotType 'Dutch angle' is not one of {', '.join(SHOT_TYPES)}",
    ]
    assert [e["message"] for e in failed.value.errors] == failed.value.problems


def test_markdown_fences_around_json_are_tolerated(brief: Brief) -> None:
    text = "```json\n" + msgspec.json.encode(board(10, 10, 10)).decode() + "\n```"
    assert len(validate_storyboard(text, brief, IDS)) == 3


def test_broken_json_is_reported_as_such(brief: Brief) -> None:
    (problem,) = problems('{"scenes": [', brief)
    assert problem.startswith("the answer is not valid JSON")


def test_the_answer_must_hold_a_scenes_array(brief: Brief) -> None:
    assert problems({"storyboard": []}, brief) == [
        'the answer must be a JSON object with a "scenes" array'
    ]


@pytest.mark.parametrize("count", [2, 8])
def test_scene_counts_outside_3_to_7_are_refused(brief: Brief, count: int) -> None:
    found = problems(board(*[30 / count] * count), brief)
    assert f"the storyboard has {count} scenes; it needs 3 to 7" in found


def test_wrong_field_types_name_the_scene_and_field(brief: Brief) -> None:
    raw = board(10, 10, 10)
    raw["scenes"][1]["duration"] = "ten"
    raw["scenes"][2].pop("script")
    found = problems(raw, brief)
    assert any(p.startswith("scene 2:") and "duration" in p for p in found), found
    assert any(p.startswith("scene 3:") and "script" in p for p in found), found


def test_increasing_scene_numbers_are_renumbered(brief: Brief) -> None:
    raw = {"scenes": [scene(n, 10) for n in (0, 2, 5)]}
    assert [s.scene_number for s in validate_storyboard(raw, brief, IDS)] == [1, 2, 3]


def test_scene_numbers_out_of_order_are_refused(brief: Brief) -> None:
    raw = {"scenes": [scene(n, 10) for n in (1, 3, 2)]}
    assert problems(raw, brief) == ["scene numbers must run 1 to 3 in order; got 1, 3, 2"]


def test_synonyms_become_canonical_names(brief: Brief) -> None:
    raw = {
        "scenes": [
            scene(1, 10, shotType="close up shot", transition="fade-in"),
            scene(2, 10, shotType="top-down", transition="dissolve"),
            scene(3, 10, shotType="PACKSHOT", transition="Fade to black"),
        ]
    }
    scenes = validate_storyboard(raw, brief, IDS)
    assert [(s.shot_type, s.transition) for s in scenes] == [
        ("Close-up", "Fade in"),
        ("Overhead", "Crossfade"),
        ("Product feature", "Fade out"),
    ]


def test_every_canonical_name_is_its_own_canonical_form() -> None:
    assert all(canonical_shot_type(s) == s for s in SHOT_TYPES)
    assert all(canonical_transition(t) == t for t in TRANSITIONS)
    assert all(canonical_shot_type(s.upper().replace(" ", "_")) == s for s in SHOT_TYPES)
    assert canonical_shot_type("shot") is None and canonical_transition("teleport") is None


def test_a_small_overrun_is_absorbed_by_the_last_scene(brief: Brief) -> None:
    scenes = validate_storyboard(board(6, 8, 10, 6.4), brief, IDS)
    assert [s.duration for s in scenes] == [6, 8, 10, 6.0]


def test_a_moderate_miss_is_rescaled_proportionally(brief: Brief) -> None:
    scenes = validate_storyboard(board(6, 8, 10, 8), brief, IDS)  # 32 s for a 30 s ad
    durations = [s.duration for s in scenes]
    assert sum(durations) == pytest.approx(30, abs=0.001)
    assert durations == [5.6, 7.5, 9.4, 7.5]


def test_a_large_miss_is_refused(brief: Brief) -> None:
    assert problems(board(10, 10, 10, 10), brief) == [
        "the scene durations add up to 40 s; they must add up to the target of 30 s"
    ]


def test_scenes_shorter_than_a_second_are_refused(brief: Brief) -> None:
    assert "scene 1: duration 0.5 s is too short; every scene needs at least 1 s" in problems(
        board(0.5, 14.5, 15), brief
    )


def test_assets_must_be_this_jobs_pictures(brief: Brief) -> None:
    raw = board(10, 10, 10)
    raw["scenes"][0]["assets"] = ["img-1", "img-1", "vid-1"]
    raw["scenes"][1]["assets"] = ["other-job"]
    raw["scenes"][2]["assets"] = ["song"]
    found = problems(raw, brief, audio_ids=["song"])
    assert found == [
        "scene 2: asset 'other-job' is not one of this job's assets (img-1, vid-1)",
        "scene 3: asset 'song' is audio; scenes show only image and video assets",
    ]
    raw["scenes"][1]["assets"] = raw["scenes"][2]["assets"] = []
    assert validate_storyboard(raw, brief, IDS)[0].assets == ["img-1", "vid-1"]


def test_a_job_without_assets_allows_only_empty_asset_lists(brief: Brief) -> None:
    found = problems(board(10, 10, 10), brief, ids=[])
    assert (
        found[0] == "scene 1: asset 'img-1' is not one of this job's assets (none; leave "
        "assets empty)"
    )


def test_overlong_text_is_refused(brief: Brief) -> None:
    raw = board(10, 10, 10)
    raw["scenes"][0]["description"] = "x" * 1500
    assert problems(raw, brief) == ["scene 1: description has 1500 characters; keep it under 1000"]


def test_a_regenerated_scene_takes_its_slot_and_kept_duration(brief: Brief) -> None:
    new = validate_scene(
        scene(9, 25), brief, IDS, scene_number=2, keep_duration=8.0, others_total=22.0
    )
    assert (new.scene_number, new.duration) == (2, 8.0)


def test_a_regenerated_scene_may_not_push_the_ad_past_its_limits(brief: Brief) -> None:
    with pytest.raises(InvalidStoryboard) as invalid:
        validate_scene(
            {"scene": scene(2, 100)},
            brief,
            IDS,
            scene_number=2,
            keep_duration=None,
            others_total=22.0,
        )
    assert invalid.value.problems == [
        "scene 2: a duration of 100 s makes the ad 122 s long; it must stay between 6 and 120 s"
    ]
    ok = validate_scene(
        {"scene": scene(2, 11)}, brief, IDS, scene_number=2, keep_duration=None, others_total=22.0
    )
    assert ok.duration == 11


def test_settings_read_the_environment() -> None:
    settings = PlannerSettings.from_env(
        {
            "ADPIPE_LLM_MODEL": "openai/gpt-4o-mini",
            "ADPIPE_LLM_MAX_ATTEMPTS": "5",
            "ADPIPE_LLM_TIMEOUT_SECONDS": "12.5",
            "ADPIPE_LLM_API_BASE": "http://127.0.0.1:9/v1",
        }
    )
    assert settings.model == "openai/gpt-4o-mini" and settings.max_attempts == 5
    assert settings.timeout_seconds == 12.5 and settings.api_base == "http://127.0.0.1:9/v1"
    assert PlannerSettings.from_env({}) == PlannerSettings()
    assert PlannerSettings.from_env({"ADPIPE_LLM_MODEL": "  "}).model is None


def test_validation_does_not_touch_its_input(brief: Brief) -> None:
    raw = board(6, 8, 10, 8)
    before = copy.deepcopy(raw)
    validate_storyboard(raw, brief, IDS)
    assert raw == before
