"""The job aggregate's narration rules: which scenes need speech, stale and repeated narrations,
lengthened scenes, the voiceover cost, approval queued behind narration, and the failure policy."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpipe.domain.job import (
    Approve,
    Cancel,
    CreateJob,
    FailNarration,
    JobState,
    RecordNarration,
    RecordSceneRegenerated,
    RecordStoryboard,
    RequestRegenerateAll,
    RequestSceneRegeneration,
    StartRender,
    UpdateScene,
    decide,
    evolve,
)
from adpipe.domain.narration import (
    Narration,
    adjustments,
    failed_scenes,
    narration_status,
    narrations_in_order,
    ready_to_render,
    scenes_to_narrate,
    spoken,
)
from adpipe.domain.regeneration import StoryboardRegeneration
from adpipe.errors import InvalidTransition, ValidationFailed
from adpipe.events.job import (
    Creative,
    Direction,
    JobApproved,
    JobAssetRef,
    JobContext,
    JobCreated,
    JobFailed,
    RenderQueued,
    Voiceover,
)
from adpipe.events.narration import NarrationFailed, NarrationSynthesized, WordTiming
from adpipe.events.scene import Scene
from adpipe.render_queue import RenderEstimate
from testkit.seed import SMART_WATCH


def create(voiceover: Voiceover | None = Voiceover(voice="en-us")) -> CreateJob:
    return CreateJob(
        job_id="j1",
        user_id="u1",
        context=JobContext(client_id="c1"),
        ad_basics=SMART_WATCH,
        creative=Creative(
            direction=Direction(style="Modern"),
            assets=[JobAssetRef(asset_id="a1", type="image")],
            duration_seconds=30,
            voiceover=voiceover,
        ),
    )


SCRIPTS = ("Life moves fast.", "Stay connected.", "…", "Buy now.")


def storyboard(scripts: tuple[str, ...] = SCRIPTS) -> RecordStoryboard:
    durations = (6.0, 8.0, 10.0, 6.0)
    return RecordStoryboard(
        scenes=[
            Scene(
                scene_number=i,
                duration=durations[i - 1],
                description=f"Scene {i}",
                script=script,
                shot_type="Wide",
                transition="Cut",
                assets=["a1"],
            )
            for i, script in enumerate(scripts, start=1)
        ],
        planner="builtin",
    )


def run(state: JobState, *commands: object) -> JobState:
    for command in commands:
        for event in decide(state, command):  # type: ignore[arg-type]
            state = evolve(state, event)
    return state


def narration(
    state: JobState, number: int, *, fitted: float | None = None, cost: float = 0.0
) -> RecordNarration:
    scene = state.scenes[number - 1]
    words = scene.script.split()
    return RecordNarration(
        narration=Narration(
            scene_number=number,
            script=scene.script,
            planned_duration=scene.duration,
            blob_id=f"blob-{number}-{scene.script}",
            content_type="audio/wav",
            duration_seconds=0.4 * len(words),
            lead_seconds=0.15,
            words=[
                WordTiming(word=w, start=0.4 * i, end=0.4 * i + 0.35) for i, w in enumerate(words)
            ],
            voice="en-us",
            engine="espeak-ng",
            speed=1.0,
            characters=len(scene.script),
            cost=cost,
            scene_duration=fitted or scene.duration,
            lengthened=fitted is not None,
            note=f"lengthened to {fitted:g} s to fit its narration" if fitted else "",
        )
    )


def failure(state: JobState, number: int, message: str = "the engine crashed") -> FailNarration:
    scene = state.scenes[number - 1]
    return FailNarration(
        scene_number=number,
        script=scene.script,
        planned_duration=scene.duration,
        code="tts_crashed",
        message=message,
    )


def in_review() -> JobState:
    return run(JobState(), create(), storyboard())


def narrated() -> JobState:
    state = in_review()
    for number in scenes_to_narrate(state):
        state = run(state, narration(state, number))
    return state


def test_every_spoken_script_needs_a_narration_and_an_unspoken_one_has_none() -> None:
    state = in_review()
    assert scenes_to_narrate(state) == [1, 2, 4]
    assert [narration_status(state, s) for s in state.scenes] == [
        "pending",
        "pending",
        "none",
        "pending",
    ]
    assert not spoken("…") and not spoken("  — ") and spoken("3 2 1") and spoken("Go!")
    state = narrated()
    assert scenes_to_narrate(state) == []
    assert [n.scene_number for n in narrations_in_order(state)] == [1, 2, 4]


def test_a_job_without_voiceover_has_nothing_to_narrate() -> None:
    for voiceover in (None, Voiceover(enabled=False)):
        state = run(JobState(), create(voiceover), storyboard())
        assert scenes_to_narrate(state) == []
        assert {narration_status(state, s) for s in state.scenes} == {"none"}
        with pytest.raises(InvalidTransition, match="voiceover is off"):
            decide(state, narration(in_review(), 1))


def test_events_recorded_before_voice_existed_decode_as_no_narration() -> None:
    old = (
        b'{"type":"job.created","jobId":"j1","userId":"u1","context":{"clientId":"c1"},'
        b'"adBasics":{"product":"p","targetAudience":"t","keyMessage":"k","callToAction":"c"},'
        b'"creative":{"direction":{"style":"s"}}}'
    )
    event = msgspec.json.decode(old, type=JobCreated)
    assert event.creative.voiceover is None


def test_a_redelivered_or_stale_narration_records_nothing() -> None:
    state = in_review()
    first = narration(state, 2)
    state = run(state, first)
    assert decide(state, first) == []  # redelivery
    edited = run(state, UpdateScene(scene_number=2, script="Stay close to what matters."))
    assert narration_status(edited, edited.scenes[1]) == "pending"
    assert decide(edited, first) == []  # made for the old script: dropped
    assert decide(edited, failure(state, 2)) == []  # a failure of the old script too
    resized = run(state, UpdateScene(scene_number=2, duration=9.0))
    assert scenes_to_narrate(resized) == [1, 2, 4]  # fitted to 8 s, the scene is now 9 s


def test_a_narration_too_long_for_its_scene_lengthens_it_and_says_so() -> None:
    state = in_review()
    state = run(state, narration(state, 1, fitted=7.5, cost=0.0002))
    assert state.scenes[0].duration == 7.5 and state.duration_seconds == 31.5
    assert narration_status(state, state.scenes[0]) == "ready"
    assert adjustments(state) == ["Scene 1: lengthened to 7.5 s to fit its narration"]
    assert state.cost.voiceover == pytest.approx(0.0002)
    assert state.cost.total == pytest.approx(0.0002)
    # Re-narrating after an edit pays again: every synthesis is a real cost.
    state = run(state, UpdateScene(scene_number=1, script="Life moves faster."))
    state = run(state, narration(state, 1, cost=0.0003))
    assert state.cost.voiceover == pytest.approx(0.0005)
    assert adjustments(state) == []


def test_lengthening_beyond_the_longest_ad_is_refused() -> None:
    state = in_review()
    with pytest.raises(ValidationFailed, match="longer than 120"):
        decide(state, narration(state, 1, fitted=100.0))


def test_approval_is_queued_while_narration_is_pending_and_renders_when_it_lands() -> None:
    state = run(in_review(), Approve())
    assert state.status == "in_progress" and not ready_to_render(state)
    for number in (1, 2):
        state = run(state, narration(state, number))
        assert not ready_to_render(state)
    state = run(state, narration(state, 4, fitted=7.0))  # may still lengthen: the job says so
    assert ready_to_render(state) and state.duration_seconds == 31.0
    state = run(state, StartRender())
    assert state.status == "rendering" and not ready_to_render(state)


def test_a_failure_of_the_first_storyboard_fails_the_job() -> None:
    state = in_review()
    events = decide(state, failure(state, 2))
    assert [type(e) for e in events] == [NarrationFailed, JobFailed]
    state = run(state, failure(state, 2))
    assert state.status == "failed" and state.error is not None
    assert state.error.stage == "voiceover" and "scene 2" in state.error.message
    assert "the engine crashed" in state.error.message
    assert narration_status(state, state.scenes[1]) == "failed"


def test_a_failure_after_approval_fails_the_job() -> None:
    state = run(in_review(), UpdateScene(scene_number=2, script="Edited."), Approve())
    state = run(state, failure(state, 2))
    assert state.status == "failed" and state.error is not None
    assert state.error.code == "voiceover_failed"


def test_a_failure_after_an_edit_keeps_the_review_and_blocks_approval_until_fixed() -> None:
    state = narrated()
    state = run(state, RequestSceneRegeneration(scene_number=2))
    new = msgspec.structs.replace(state.scenes[1], script="Never miss a beat.")
    state = run(state, RecordSceneRegenerated(scene=new, planner="builtin"))
    assert decide(state, failure(state, 2)) == [
        NarrationFailed(
            scene_number=2,
            script="Never miss a beat.",
            code="tts_crashed",
            message="the engine crashed",
        )
    ]
    state = run(state, failure(state, 2))
    assert state.status == "storyboard_review"
    assert narration_status(state, state.scenes[1]) == "failed"
    assert decide(state, failure(state, 2)) == []  # recorded once
    with pytest.raises(InvalidTransition, match="narration of scene 2 failed"):
        decide(state, Approve())
    state = run(state, UpdateScene(scene_number=2, script="Never miss a thing."))
    assert narration_status(state, state.scenes[1]) == "pending"
    assert decide(state, Approve())  # queued again: the new script is being narrated
    state = run(state, narration(state, 2))
    assert run(state, Approve()).status == "in_progress"


def test_a_failure_on_a_regenerated_storyboard_keeps_the_review() -> None:
    state = run(narrated(), RequestRegenerateAll())
    state = run(state, storyboard(("One.", "Two.", "Three.", "Four.")))
    state = run(state, failure(state, 3))
    assert state.status == "storyboard_review"
    # A new storyboard clears the old failures; its scenes are narrated afresh.
    state = run(state, RequestRegenerateAll(), storyboard())
    assert [narration_status(state, s) for s in state.scenes] == [
        "pending",
        "pending",
        "none",
        "pending",
    ]


def test_a_new_storyboard_keeps_the_narrations_that_still_fit() -> None:
    state = run(narrated(), RequestRegenerateAll(), storyboard())
    assert scenes_to_narrate(state) == []  # same scripts, same durations: same speech


def test_narration_of_an_ended_job_is_refused() -> None:
    state = run(in_review(), Cancel())
    with pytest.raises(InvalidTransition, match="cancelled"):
        decide(state, narration(in_review(), 1))
    with pytest.raises(InvalidTransition, match="cancelled"):
        decide(state, failure(in_review(), 1))


def test_narration_recorded_events_round_trip_through_json() -> None:
    state = in_review()
    [event] = decide(state, narration(state, 1, fitted=7.0))
    assert isinstance(event, NarrationSynthesized)
    raw = msgspec.json.encode(event)
    assert b'"type":"job.narration_synthesized"' in raw and b'"leadSeconds"' in raw
    assert msgspec.json.decode(raw, type=NarrationSynthesized) == event
    encoded = msgspec.json.encode(run(state, narration(state, 1)))
    assert msgspec.json.decode(encoded, type=JobState).narrations[1].script == "Life moves fast."


# ---- property test: narration in random review sequences keeps its promises -----------------

numbers = st.integers(min_value=1, max_value=4)
review_commands = st.one_of(
    numbers.map(lambda n: ("narrate", n, None)),
    st.tuples(numbers, st.sampled_from([7.0, 9.5, 12.0])).map(lambda t: ("narrate", t[0], t[1])),
    numbers.map(lambda n: ("fail", n, None)),
    st.tuples(numbers, st.sampled_from(["One.", "Two words.", "…", "Three more words."])).map(
        lambda t: ("edit", t[0], t[1])
    ),
    st.tuples(numbers, st.sampled_from([5.0, 6.0, 8.0])).map(lambda t: ("resize", t[0], t[1])),
    st.just(("approve", 0, None)),
    st.just(("regenerate_all", 0, None)),
)


def command_for(state: JobState, kind: str, number: int, value: object) -> object:
    match kind:
        case "narrate":
            return narration(state, number, fitted=value)  # type: ignore[arg-type]
        case "fail":
            return failure(state, number)
        case "edit":
            return UpdateScene(scene_number=number, script=str(value))
        case "resize":
            return UpdateScene(scene_number=number, duration=float(value))  # type: ignore[arg-type]
        case "approve":
            return Approve()
    return RequestRegenerateAll()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(review_commands, max_size=30))
def test_random_review_sequences_keep_the_narration_promises(
    sequence: list[tuple[str, int, object]],
) -> None:
    state = in_review()
    for kind, number, value in sequence:
        if isinstance(state.regenerating, StoryboardRegeneration):
            # The planner answers the regeneration, at the storyboard's current length.
            # (Edits may have shrunk it below the 30 s first planned: scale every scene, so no
            # scene of the answer is ever shorter than the rules allow.)
            answer = storyboard()
            scale = state.duration_seconds / sum(s.duration for s in answer.scenes)
            scenes = [
                msgspec.structs.replace(s, duration=round(s.duration * scale, 3))
                for s in answer.scenes
            ]
            rest = round(state.duration_seconds - sum(s.duration for s in scenes[1:]), 3)
            scenes[0] = msgspec.structs.replace(scenes[0], duration=rest)
            state = run(state, msgspec.structs.replace(answer, scenes=scenes))
        if not 1 <= number <= len(state.scenes) and kind in ("narrate", "fail"):
            continue
        before = state
        try:
            command = command_for(state, kind, number, value)
            state = run(state, command)
        except (InvalidTransition, ValidationFailed, IndexError):
            continue
        # A narration is kept only while it fits its scene's script and duration.
        for scene in state.scenes:
            kept = state.narrations.get(scene.scene_number)
            assert kept is None or (kept.script, kept.scene_duration) == (
                scene.script,
                scene.duration,
            )
            assert not spoken(scene.script) or narration_status(state, scene) != "none"
        assert abs(sum(s.duration for s in state.scenes) - state.duration_seconds) < 1e-6
        if before.status == "in_progress":
            # After approval the words are locked; a scene may only grow to hold its speech.
            assert [s.script for s in state.scenes] == [s.script for s in before.scenes]
            for new, old in zip(state.scenes, before.scenes, strict=True):
                assert new.duration >= old.duration
        if state.status == "in_progress" and before.status == "storyboard_review":
            assert not failed_scenes(before), "approved over a failed narration"


def test_the_event_that_makes_the_job_ready_queues_its_render_once() -> None:
    state = in_review()
    # Approval with narrations still to make: approved, not queued.
    assert [type(e) for e in decide(state, Approve())] == [JobApproved]
    state = run(state, Approve(), narration(state, 1), narration(state, 2))
    estimate = RenderEstimate(wait_seconds=20.0, seconds_per_video_second=0.5)
    command = msgspec.structs.replace(narration(state, 4), render_estimate=estimate)
    events = decide(state, command)
    assert [type(e) for e in events] == [NarrationSynthesized, RenderQueued]
    queued = events[-1]
    assert isinstance(queued, RenderQueued)
    assert queued.video_seconds == state.duration_seconds
    assert queued.eta_seconds == 20.0 + 0.5 * state.duration_seconds  # the wait counts
    state = run(state, command)
    assert ready_to_render(state) and decide(state, command) == []  # a redelivery: no news


def test_approving_a_job_with_nothing_to_narrate_queues_its_render() -> None:
    state = run(JobState(), create(voiceover=None), storyboard())
    events = decide(state, Approve())
    assert [type(e) for e in events] == [JobApproved, RenderQueued]
    assert events[-1] == RenderQueued(video_seconds=state.duration_seconds, eta_seconds=None)
