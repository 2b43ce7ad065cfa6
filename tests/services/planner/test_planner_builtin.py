"""The built-in planner: valid for any brief and assets, deterministic, varied, and steerable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpipe.events.scene import Scene
from adpipe.services.planner.engine import (
    SHOT_TYPES,
    TRANSITIONS,
    Brief,
    PlannerAsset,
    PlannerSettings,
    builtin,
    plan_storyboard,
    regenerate_scene,
    validate_scene,
    validate_storyboard,
)
from adpipe.services.planner.engine.feedback import asks_for_duration

FREE_TEXT = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "Smart Watch",
            "Oat milk",
            "Tech-savvy professionals aged 25-40",
            "Buy Now at SmartWatch.com",
            "Modern and sleek",
            "Energetic and inspiring",
            "Calm, elegant and warm",
            "",
            "   ",
        ]
    ),
)
FEEDBACK = st.one_of(
    st.none(),
    st.text(max_size=120),
    st.sampled_from(
        [
            "More energetic",
            "calmer please",
            "shorter",
            "longer",
            "close-ups",
            "more product",
            "wide shots",
            "fewer scenes",
            "more scenes, faster",
            "make it 3 seconds longer",
            "10 seconds",
            "2 s shorter",
            "overhead",
        ]
    ),
)


@st.composite
def job_assets(draw: st.DrawFn) -> list[PlannerAsset]:
    kinds = draw(st.lists(st.sampled_from(["image", "video", "audio"]), max_size=6))
    names = ["Product Hero", "Lifestyle Clip", "Logo", "City at night", "Jingle", ""]
    return [
        PlannerAsset(
            id=f"asset-{i}",
            type=kind,
            name=draw(st.one_of(st.sampled_from(names), st.text(max_size=80))),
            width=draw(st.none() | st.integers(1, 4000)),
            height=draw(st.none() | st.integers(1, 4000)),
            duration=None if kind == "image" else draw(st.floats(0.5, 600)),
        )
        for i, kind in enumerate(kinds)
    ]


BRIEFS = st.builds(
    Brief,
    product=FREE_TEXT,
    target_audience=FREE_TEXT,
    key_message=FREE_TEXT,
    call_to_action=FREE_TEXT,
    style=FREE_TEXT,
    tone=FREE_TEXT,
    visual_elements=st.lists(FREE_TEXT, max_size=4),
    duration_seconds=st.one_of(st.floats(6, 120), st.integers(6, 120).map(float)),
    aspect_ratio=st.sampled_from(["16:9", "9:16", "1:1"]),
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def visual(assets: list[PlannerAsset]) -> list[str]:
    return [a.id for a in assets if a.type != "audio"]


def assert_valid(scenes: list[Scene], brief: Brief, assets: list[PlannerAsset]) -> None:
    ids = visual(assets)
    assert validate_storyboard(msgspec.to_builtins({"scenes": scenes}), brief, ids) == scenes
    assert 3 <= len(scenes) <= 7
    assert [s.scene_number for s in scenes] == list(range(1, len(scenes) + 1))
    assert abs(sum(s.duration for s in scenes) - brief.duration_seconds) <= 0.05
    assert all(s.duration >= 1.0 for s in scenes)
    used = {a for s in scenes for a in s.assets}
    assert used == set(ids), "every picture is used, and nothing else (no audio, no strangers)"
    assert all(s.shot_type in SHOT_TYPES and s.transition in TRANSITIONS for s in scenes)


@PROPERTY
@given(brief=BRIEFS, assets=job_assets(), feedback=FEEDBACK, variant=st.integers(0, 50))
def test_every_storyboard_is_valid(
    brief: Brief, assets: list[PlannerAsset], feedback: str | None, variant: int
) -> None:
    scenes = builtin.storyboard(brief, assets, feedback=feedback, variant=variant)
    assert_valid(scenes, brief, assets)
    assert scenes == builtin.storyboard(brief, assets, feedback=feedback, variant=variant)


@PROPERTY
@given(
    brief=BRIEFS, assets=job_assets(), feedback=FEEDBACK, variant=st.integers(0, 50), data=st.data()
)
def test_regeneration_changes_only_its_scene(
    brief: Brief,
    assets: list[PlannerAsset],
    feedback: str | None,
    variant: int,
    data: st.DataObject,
) -> None:
    scenes = builtin.storyboard(brief, assets)
    number = data.draw(st.integers(1, len(scenes)), label="scene_number")
    new = builtin.scene(brief, assets, scenes, number, feedback=feedback, variant=variant)
    old = scenes[number - 1]

    assert new.scene_number == number
    assert (new.description, new.script) != (old.description, old.script)
    assert set(new.assets) <= set(visual(assets))
    if not asks_for_duration(feedback):
        assert new.duration == old.duration
    others = sum(s.duration for s in scenes) - old.duration
    assert 6 <= round(others + new.duration, 3) <= 120  # rounded as the job aggregate does
    validate_scene(
        msgspec.to_builtins(new),
        brief,
        visual(assets),
        scene_number=number,
        keep_duration=None,
        others_total=others,
    )


@settings(max_examples=60, deadline=None)
@given(brief=BRIEFS, assets=job_assets(), variant=st.integers(0, 50))
def test_consecutive_variants_differ(
    brief: Brief, assets: list[PlannerAsset], variant: int
) -> None:
    first = builtin.storyboard(brief, assets, variant=variant)
    second = builtin.storyboard(brief, assets, variant=variant + 1)
    assert [s.script for s in first] != [s.script for s in second]


@settings(max_examples=60, deadline=None)
@given(brief=BRIEFS, assets=job_assets(), feedback=FEEDBACK, variant=st.integers(0, 50))
def test_a_new_storyboard_never_repeats_the_previous_one(
    brief: Brief, assets: list[PlannerAsset], feedback: str | None, variant: int
) -> None:
    previous = builtin.storyboard(brief, assets, feedback=feedback, variant=variant)
    again = builtin.storyboard(brief, assets, feedback=feedback, previous=previous, variant=variant)
    assert again != previous
    assert_valid(again, brief, assets)


def test_the_seed_example_reads_like_the_seed(brief: Brief, assets: list[PlannerAsset]) -> None:
    scenes = builtin.storyboard(brief, assets)
    assert [s.duration for s in scenes] == [6.0, 8.0, 10.0, 6.0]
    assert [s.shot_type for s in scenes] == ["Wide", "Close-up", "Montage", "Product feature"]
    assert scenes[0].assets == ["asset-clip"]  # motion opens
    assert scenes[-1].assets == ["asset-hero"]  # the product closes
    assert scenes[-1].transition == "Fade out"
    assert "Tech-savvy professionals aged 25-40" in scenes[0].script
    assert "Stay connected to what matters most" in scenes[1].script
    assert "Buy Now at SmartWatch.com" in scenes[-1].script
    text = " ".join(s.description for s in scenes)
    for expected in (
        "Modern and sleek",
        "nergetic and inspiring",
        "urban environment",
        "Product Hero (image)",
        "Lifestyle Clip (video)",
    ):
        assert expected in text, expected
    assert "Jingle" not in text


@pytest.mark.parametrize(
    ("total", "count"),
    [(6, 3), (15, 3), (16, 4), (30, 4), (45, 5), (60, 6), (75, 6), (90, 7), (120, 7)],
)
def test_scene_count_follows_the_length(brief: Brief, total: float, count: int) -> None:
    scenes = builtin.storyboard(msgspec.structs.replace(brief, duration_seconds=total, tone=""), [])
    assert len(scenes) == count


def test_a_job_without_assets_gets_text_cards(brief: Brief) -> None:
    scenes = builtin.storyboard(brief, [])
    assert all(s.assets == [] and "typographic card" in s.description for s in scenes)


def test_energetic_feedback_adds_a_scene_and_hard_cuts(brief: Brief) -> None:
    calm_brief = msgspec.structs.replace(brief, tone="Calm and warm")
    base = builtin.storyboard(calm_brief, [])
    energetic = builtin.storyboard(calm_brief, [], feedback="More energetic, punchier!")
    assert len(energetic) == len(base) + 1
    assert energetic[0].transition == "Cut"
    assert "Crossfade" not in {s.transition for s in energetic}
    assert "Crossfade" in {s.transition for s in base}


def test_calm_feedback_removes_a_scene_and_fades(brief: Brief) -> None:
    calm = builtin.storyboard(brief, [], feedback="calmer and more elegant")
    assert len(calm) == len(builtin.storyboard(brief, [])) - 1
    assert calm[0].transition == "Fade in"
    assert {s.transition for s in calm[1:-1]} == {"Crossfade"}


def test_shorter_feedback_shortens_the_lines(brief: Brief) -> None:
    base = builtin.storyboard(brief, [])
    short = builtin.storyboard(brief, [], feedback="shorter")
    longer = builtin.storyboard(brief, [], feedback="more detail")
    assert sum(len(s.script) for s in short) < sum(len(s.script) for s in base)
    assert sum(len(s.script) for s in longer) > sum(len(s.script) for s in base)


def test_close_up_feedback_moves_the_camera_in(brief: Brief, assets: list[PlannerAsset]) -> None:
    scenes = builtin.storyboard(brief, assets, feedback="more close-ups please")
    assert {s.shot_type for s in scenes[:-1]} == {"Close-up"}


def test_more_product_puts_the_product_everywhere(brief: Brief, assets: list[PlannerAsset]) -> None:
    scenes = builtin.storyboard(brief, assets, feedback="show more product")
    assert all("asset-hero" in s.assets for s in scenes)


def test_a_tall_frame_gets_no_wide_shots(brief: Brief, assets: list[PlannerAsset]) -> None:
    tall = msgspec.structs.replace(brief, aspect_ratio="9:16")
    scenes = builtin.storyboard(tall, assets)
    assert "Wide" not in {s.shot_type for s in scenes}
    assert "vertical 9:16" in scenes[0].description


@pytest.mark.parametrize(
    ("feedback", "expected"),
    [
        ("make it 3 seconds longer", 11.0),
        ("2 s shorter", 6.0),
        ("10 seconds", 10.0),
        ("longer", 12.0),
        ("shorter", 5.3),
        ("More energetic", 8.0),
        (None, 8.0),
        ("make it 500 seconds", 98.0),  # the ad may not pass 120 s
    ],
)
def test_scene_length_follows_the_feedback(
    brief: Brief, assets: list[PlannerAsset], feedback: str | None, expected: float
) -> None:
    scenes = builtin.storyboard(brief, assets)
    assert scenes[1].duration == 8.0
    new = builtin.scene(brief, assets, scenes, 2, feedback=feedback, variant=0)
    assert new.duration == expected


def test_a_regenerated_scene_honours_a_named_shot(brief: Brief, assets: list[PlannerAsset]) -> None:
    scenes = builtin.storyboard(brief, assets)
    assert (
        builtin.scene(brief, assets, scenes, 1, feedback="overhead view", variant=3).shot_type
        == "Overhead"
    )


async def test_the_builtin_planner_says_what_it_is(
    brief: Brief, assets: list[PlannerAsset]
) -> None:
    plan = await plan_storyboard(brief, assets, PlannerSettings(), variant=2)
    assert (plan.planner, plan.model, plan.attempts) == ("builtin", None, 1)
    assert plan.usage.prompt_tokens == plan.usage.completion_tokens == 0
    assert plan.usage.cost == 0.0
    assert plan.scenes == builtin.storyboard(brief, assets, variant=2)
    regenerated = await regenerate_scene(
        brief, assets, plan.scenes, 3, PlannerSettings(), feedback="calmer", variant=0
    )
    assert (regenerated.planner, regenerated.model) == ("builtin", None)
    assert regenerated.scene.scene_number == 3


async def test_a_brief_outside_6_to_120_seconds_is_refused(brief: Brief) -> None:
    from adpipe.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        await plan_storyboard(
            msgspec.structs.replace(brief, duration_seconds=3.0), [], PlannerSettings()
        )


async def test_regenerating_a_missing_scene_is_not_found(brief: Brief) -> None:
    from adpipe.errors import NotFound

    scenes = builtin.storyboard(brief, [])
    with pytest.raises(NotFound):
        await regenerate_scene(
            brief, [], scenes, len(scenes) + 1, PlannerSettings(), feedback=None, variant=0
        )


def test_the_builtin_path_never_imports_litellm() -> None:
    code = textwrap.dedent("""
        import asyncio, sys
        from adpipe.services.planner.engine import Brief, PlannerSettings, plan_storyboard
        from adpipe.services.planner.engine import regenerate_scene
        brief = Brief(product="p", target_audience="a", key_message="m", call_to_action="c",
                      style="s")
        plan = asyncio.run(plan_storyboard(brief, [], PlannerSettings()))
        asyncio.run(regenerate_scene(brief, [], plan.scenes, 1, PlannerSettings(),
                                     feedback=None, variant=0))
        assert "litellm" not in sys.modules, "litellm was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
