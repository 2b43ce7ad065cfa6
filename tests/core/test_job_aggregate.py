"""The job aggregate: the seed's status flow as pure decide/evolve, and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpipe.domain.job import (
    Approve,
    Cancel,
    CompleteRender,
    CreateJob,
    Fail,
    JobState,
    RecordAssetDownloaded,
    RecordSceneRegenerated,
    RecordStoryboard,
    RejectStoryboard,
    ReportProgress,
    RequestRegenerateAll,
    RequestSceneRegeneration,
    StartRender,
    UpdateScene,
    Video,
    decide,
    evolve,
    fold,
)
from adpipe.domain.regeneration import SceneRegeneration, StoryboardRegeneration
from adpipe.errors import InvalidTransition, ValidationFailed
from adpipe.events.asset import AssetMetadata
from adpipe.events.job import (
    AssetDownloaded,
    Creative,
    Direction,
    JobAssetRef,
    JobContext,
)
from adpipe.events.scene import Scene
from testkit.seed import SMART_WATCH


def create(assets: list[JobAssetRef] | None = None, duration: float = 30.0) -> CreateJob:
    return CreateJob(
        job_id="j1",
        user_id="u1",
        context=JobContext(client_id="c1"),
        ad_basics=SMART_WATCH,
        creative=Creative(
            direction=Direction(style="Modern", tone="Energetic"),
            assets=assets or [JobAssetRef(asset_id="a1", type="image", name="Hero")],
            duration_seconds=duration,
        ),
    )


def storyboard(durations: tuple[float, ...] = (6, 8, 10, 6), asset: str = "a1") -> RecordStoryboard:
    return RecordStoryboard(
        scenes=[
            Scene(
                scene_number=i,
                duration=d,
                description=f"Scene {i} shows the watch",
                script=f"Line {i}",
                shot_type="Wide",
                transition="Cut",
                assets=[asset],
            )
            for i, d in enumerate(durations, start=1)
        ],
        planner="builtin",
    )


def run(state: JobState, *commands: object) -> JobState:
    for command in commands:
        for event in decide(state, command):  # type: ignore[arg-type]
            state = evolve(state, event)
    return state


def in_review() -> JobState:
    return run(JobState(), create(), storyboard())


def test_a_job_with_ready_assets_goes_to_review_when_the_storyboard_lands() -> None:
    state = run(JobState(), create())
    assert state.status == "pending" and state.ready_to_plan
    state = run(state, storyboard())
    assert state.status == "storyboard_review"
    assert [s.scene_number for s in state.scenes] == [1, 2, 3, 4]


def test_planning_waits_for_assets_given_by_url() -> None:
    asset = JobAssetRef(asset_id="a1", type="image", url="https://cdn.example.com/p.jpg")
    state = run(JobState(), create([asset]))
    assert not state.ready_to_plan
    with pytest.raises(InvalidTransition):
        decide(state, storyboard())
    downloaded = AssetDownloaded(
        asset_id="a1",
        url=asset.url or "",
        blob_id="b" * 64,
        metadata=AssetMetadata(format="jpeg", content_type="image/jpeg", size=10),
    )
    state = run(state, RecordAssetDownloaded(event=downloaded))
    assert state.ready_to_plan
    assert decide(state, RecordAssetDownloaded(event=downloaded)) == []  # redelivery: nothing


def test_a_storyboard_must_sum_to_the_target_and_use_only_the_jobs_assets() -> None:
    state = run(JobState(), create())
    with pytest.raises(ValidationFailed, match="add up to 20"):
        decide(state, storyboard((5, 5, 10)))
    with pytest.raises(ValidationFailed, match="3 to 7 scenes"):
        decide(state, storyboard((15, 15)))
    with pytest.raises(ValidationFailed, match="invalid"):
        decide(state, storyboard(asset="someone-elses"))


def test_regenerating_a_scene_changes_only_that_scene() -> None:
    state = run(in_review(), RequestSceneRegeneration(scene_number=2, feedback="More energetic"))
    assert state.regenerating == SceneRegeneration(scene_number=2, feedback="More energetic")
    with pytest.raises(InvalidTransition, match="scene 2 is being regenerated"):
        decide(state, Approve())
    new = Scene(
        scene_number=2,
        duration=8,
        description="New",
        script="New line",
        shot_type="Close-up",
        transition="Cut",
        assets=["a1"],
    )
    after = run(state, RecordSceneRegenerated(scene=new, planner="builtin"))
    assert after.scenes[1] == new
    assert after.scenes[0] == state.scenes[0] and after.scenes[2:] == state.scenes[2:]
    assert after.regenerating is None and after.regenerations == 1


def test_rejecting_needs_feedback_and_regenerates_everything() -> None:
    with pytest.raises(ValidationFailed):
        decide(in_review(), RejectStoryboard(feedback="  "))
    state = run(in_review(), RejectStoryboard(feedback="Too slow"))
    assert state.regenerating == StoryboardRegeneration(reason="reject", feedback="Too slow")
    [event] = decide(state, storyboard((10, 10, 10)))
    assert event.reason == "reject" and event.feedback == "Too slow"  # type: ignore[attr-defined]


def test_editing_a_scene_duration_moves_the_total() -> None:
    state = run(in_review(), UpdateScene(scene_number=1, duration=10, script="Edited"))
    assert state.duration_seconds == 34
    assert state.scenes[0].script == "Edited"
    with pytest.raises(ValidationFailed, match="scenes 1 to 4"):
        decide(state, UpdateScene(scene_number=9, script="x"))


def test_regenerating_after_approval_is_rejected() -> None:
    state = run(in_review(), Approve())
    assert state.status == "in_progress"
    for command in (
        RequestSceneRegeneration(scene_number=1),
        RequestRegenerateAll(),
        UpdateScene(scene_number=1, script="x"),
        Approve(),
    ):
        with pytest.raises(InvalidTransition, match="in_progress"):
            decide(state, command)


def test_rendering_reports_progress_that_never_goes_back_and_completes() -> None:
    state = run(in_review(), Approve(), StartRender(), ReportProgress(percent=40))
    assert state.status == "rendering" and state.progress == 40
    assert decide(state, ReportProgress(percent=20)) == []
    state = run(state, StartRender())  # a restarted render keeps the progress shown
    assert state.render_attempts == 2 and state.progress == 40
    video = Video(
        blob_id="v", duration_seconds=30, size_bytes=1, width=1920, height=1080, render_seconds=5
    )
    state = run(state, CompleteRender(video=video, cost=1.2))
    assert state.status == "completed" and state.progress == 100
    assert state.cost.rendering == 1.2


def test_a_cancelled_job_takes_no_more_actions() -> None:
    state = run(in_review(), Cancel(reason="changed my mind"))
    for command in (
        Approve(),
        Cancel(),
        StartRender(),
        Fail(code="x", message="y"),
        RequestRegenerateAll(),
    ):
        with pytest.raises(InvalidTransition, match="cancelled"):
            decide(state, command)


# ---- property test: random command sequences keep the invariants ----------------------------

scene_numbers = st.integers(min_value=0, max_value=8)
commands = st.one_of(
    st.just(storyboard()),
    st.just(storyboard((10, 10, 10))),
    scene_numbers.map(lambda n: RequestSceneRegeneration(scene_number=n, feedback="f")),
    scene_numbers.map(
        lambda n: RecordSceneRegenerated(
            scene=Scene(
                scene_number=n,
                duration=6 if n == 1 else 10,
                description="d",
                script="s",
                shot_type="Wide",
                transition="Cut",
                assets=[],
            ),
            planner="builtin",
        )
    ),
    st.just(RequestRegenerateAll(feedback="again")),
    st.just(RejectStoryboard(feedback="no")),
    st.tuples(scene_numbers, st.floats(min_value=0.0, max_value=40.0)).map(
        lambda t: UpdateScene(scene_number=t[0], duration=round(t[1], 1))
    ),
    st.just(Approve()),
    st.just(StartRender()),
    st.integers(min_value=-5, max_value=120).map(lambda p: ReportProgress(percent=p)),
    st.just(
        CompleteRender(
            video=Video(
                blob_id="v", duration_seconds=30, size_bytes=1, width=1, height=1, render_seconds=1
            )
        )
    ),
    st.just(Fail(code="boom", message="failed")),
    st.just(Cancel()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, max_size=40))
def test_random_command_sequences_keep_the_invariants(sequence: list[object]) -> None:
    state = run(JobState(), create())
    history = [state]
    for command in sequence:
        before = state
        try:
            events = decide(state, command)  # type: ignore[arg-type]
        except (InvalidTransition, ValidationFailed):
            continue
        state = fold(events, state)
        assert state == fold(events, before)  # evolve is deterministic
        if before.status in {"completed", "failed", "cancelled"}:
            pytest.fail(f"{type(command).__name__} was accepted after {before.status}")
        if before.status in {"in_progress", "rendering", "completed"}:
            assert state.scenes == before.scenes, "scenes changed after approval"
        assert state.progress >= before.progress, "progress went down"
        if state.scenes:
            assert [s.scene_number for s in state.scenes] == list(range(1, len(state.scenes) + 1))
            assert 3 <= len(state.scenes) <= 7
            assert abs(sum(s.duration for s in state.scenes) - state.duration_seconds) < 0.51
        history.append(state)
