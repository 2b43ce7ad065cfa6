"""The job aggregate: every rule of the seed's status flow, as pure decide/evolve.

pending → storyboard_review → in_progress → rendering → completed, with failed and cancelled as the
other endings. `decide` checks a command against the state and answers the events it causes, or
raises `InvalidTransition` (the API's 409) / `ValidationFailed` (422). `evolve` folds one event into
the state and never refuses: the log is the truth. No IO here.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from adpipe.errors import InvalidTransition, ValidationFailed
from adpipe.events.base import Event, Usage
from adpipe.events.job import (
    AdBasics,
    AssetDownloaded,
    Creative,
    JobApproved,
    JobCancelled,
    JobContext,
    JobCreated,
    JobFailed,
    RegenerationFailed,
    RenderCompleted,
    RenderProgress,
    RenderQueued,
    RenderStarted,
    SceneRegenerated,
    SceneRegenerationRequested,
    ScenesGenerated,
    SceneUpdated,
    StoryboardReason,
    StoryboardRegenerationRequested,
    StoryboardRejected,
)
from adpipe.events.narration import NarrationFailed, NarrationSynthesized
from adpipe.events.scene import Scene
from adpipe.render_queue import RenderEstimate

from .narration import (
    Narration,
    NarrationFailure,
    fail_narration,
    failed_scenes,
    prune,
    ready_to_render,
    record_narration,
)
from .regeneration import Regeneration, SceneRegeneration, StoryboardRegeneration
from .storyboard import check_scene, check_storyboard, check_total_duration

Status = Literal[
    "pending", "storyboard_review", "in_progress", "rendering", "completed", "failed", "cancelled"
]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class Cost(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    planning: float = 0.0
    rendering: float = 0.0
    storage: float = 0.0
    voiceover: float = 0.0

    @property
    def total(self) -> float:
        return round(self.planning + self.rendering + self.storage + self.voiceover, 6)


class Video(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    blob_id: str
    duration_seconds: float
    size_bytes: int
    width: int
    height: int
    render_seconds: float


class JobError(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    stage: str = ""


class JobState(msgspec.Struct, frozen=True, kw_only=True):
    """A job as its events left it. `version` is the stream version the state reflects."""

    version: int = 0
    job_id: str = ""
    user_id: str = ""
    status: Status = "pending"
    context: JobContext | None = None
    ad_basics: AdBasics | None = None
    creative: Creative | None = None
    duration_seconds: float = 0.0
    # Asset ids the downloader still has to fetch before planning can start.
    awaiting_assets: frozenset[str] = frozenset()
    blobs: dict[str, str] = {}
    scenes: tuple[Scene, ...] = ()
    storyboards: int = 0
    regenerations: int = 0
    # What the planner is working on for the user, with the user's feedback; None when idle.
    regenerating: Regeneration | None = None
    planner: str | None = None
    model: str | None = None
    # Why the last requested regeneration could not be made (cleared by the next storyboard change).
    regeneration_error: JobError | None = None
    # Each scene's narration (see domain/narration.py: one that no longer fits is dropped), why
    # one could not be made, and which scenes changed since the storyboard was planned — a
    # narration failing on the storyboard as first planned fails the job, like its planning.
    narrations: dict[int, Narration] = {}
    narration_failures: dict[int, NarrationFailure] = {}
    revised_scenes: frozenset[int] = frozenset()
    render_attempts: int = 0
    progress: int = 0
    video: Video | None = None
    cost: Cost = Cost()
    error: JobError | None = None

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def asset_ids(self) -> frozenset[str]:
        assert self.creative is not None
        return frozenset(a.asset_id for a in self.creative.assets)

    @property
    def ready_to_plan(self) -> bool:
        return self.status == "pending" and not self.awaiting_assets and self.storyboards == 0


# ---- commands -------------------------------------------------------------------------------


class Command(msgspec.Struct, frozen=True, kw_only=True):
    pass


class CreateJob(Command, frozen=True, kw_only=True):
    job_id: str
    user_id: str
    context: JobContext
    ad_basics: AdBasics
    creative: Creative


class RecordAssetDownloaded(Command, frozen=True, kw_only=True):
    event: AssetDownloaded


class RecordStoryboard(Command, frozen=True, kw_only=True):
    scenes: list[Scene]
    planner: Literal["builtin", "llm"]
    model: str | None = None
    usage: Usage = Usage()


class RequestSceneRegeneration(Command, frozen=True, kw_only=True):
    scene_number: int
    feedback: str | None = None


class RecordSceneRegenerated(Command, frozen=True, kw_only=True):
    scene: Scene
    planner: Literal["builtin", "llm"]
    model: str | None = None
    usage: Usage = Usage()


class FailRegeneration(Command, frozen=True, kw_only=True):
    code: str
    message: str
    usage: Usage = Usage()


class RequestRegenerateAll(Command, frozen=True, kw_only=True):
    feedback: str | None = None


class RejectStoryboard(Command, frozen=True, kw_only=True):
    feedback: str


class UpdateScene(Command, frozen=True, kw_only=True):
    scene_number: int
    description: str | None = None
    script: str | None = None
    duration: float | None = None
    shot_type: str | None = None
    transition: str | None = None
    assets: list[str] | None = None


class Approve(Command, frozen=True, kw_only=True):
    # The render queue as the caller read it (adpipe.render_queue): if approval makes the job
    # ready to render, job.render_queued carries the estimate, the wait in the queue included.
    render_estimate: RenderEstimate | None = None


class RecordNarration(Command, frozen=True, kw_only=True):
    narration: Narration
    render_estimate: RenderEstimate | None = None  # as for Approve: it may be the last one


class FailNarration(Command, frozen=True, kw_only=True):
    """A scene's script could not be spoken (for the script and duration it was tried with)."""

    scene_number: int
    script: str
    planned_duration: float
    code: str
    message: str


class StartRender(Command, frozen=True, kw_only=True):
    worker: str = ""


class ReportProgress(Command, frozen=True, kw_only=True):
    percent: int
    eta_seconds: float | None = None
    frames_done: int = 0
    frames_total: int = 0


class CompleteRender(Command, frozen=True, kw_only=True):
    video: Video
    cost: float = 0.0


class Fail(Command, frozen=True, kw_only=True):
    code: str
    message: str
    stage: str = ""
    usage: Usage = Usage()


class Cancel(Command, frozen=True, kw_only=True):
    reason: str = ""


# ---- decide ---------------------------------------------------------------------------------


def _require(state: JobState, *statuses: Status, action: str) -> None:
    if not state.exists:
        raise InvalidTransition(f"cannot {action}: the job does not exist")
    if state.status not in statuses:
        raise InvalidTransition(
            f"cannot {action} while the job is {state.status}", status=state.status
        )


def _require_idle(state: JobState, action: str) -> None:
    if state.regenerating is not None:
        raise InvalidTransition(
            f"cannot {action}: {state.regenerating.describe()} is being regenerated",
            status=state.status,
        )


def _scene(state: JobState, number: int) -> Scene:
    if not 1 <= number <= len(state.scenes):
        raise ValidationFailed(
            f"scene {number} does not exist; the storyboard has scenes 1 to {len(state.scenes)}",
            [{"field": "sceneNumber", "message": f"must be between 1 and {len(state.scenes)}"}],
        )
    return state.scenes[number - 1]


def decide(state: JobState, command: Command) -> list[Event]:
    match command:
        case CreateJob():
            if state.exists:
                raise InvalidTransition("the job already exists", status=state.status)
            check_total_duration(command.creative.duration_seconds)
            return [
                JobCreated(
                    job_id=command.job_id,
                    user_id=command.user_id,
                    context=command.context,
                    ad_basics=command.ad_basics,
                    creative=command.creative,
                )
            ]
        case RecordAssetDownloaded(event=event):
            _require(state, "pending", action="record a downloaded asset")
            if event.asset_id not in state.awaiting_assets:
                return []  # already recorded, or not this job's: a redelivery does nothing
            return [event]
        case RecordStoryboard():
            reason: StoryboardReason = "initial"
            feedback: str | None = None
            if not state.ready_to_plan:
                _require(state, "storyboard_review", action="record a storyboard")
                if not isinstance(state.regenerating, StoryboardRegeneration):
                    raise InvalidTransition(
                        "no storyboard regeneration was requested", status=state.status
                    )
                reason, feedback = state.regenerating.reason, state.regenerating.feedback
            scenes = check_storyboard(command.scenes, state.duration_seconds, state.asset_ids)
            return [
                ScenesGenerated(
                    scenes=scenes,
                    duration_seconds=round(sum(s.duration for s in scenes), 3),
                    planner=command.planner,
                    model=command.model,
                    reason=reason,
                    feedback=feedback,
                    usage=command.usage,
                )
            ]
        case RequestSceneRegeneration():
            _require(state, "storyboard_review", action="regenerate a scene")
            _require_idle(state, "regenerate a scene")
            _scene(state, command.scene_number)
            return [
                SceneRegenerationRequested(
                    scene_number=command.scene_number, feedback=command.feedback or None
                )
            ]
        case RecordSceneRegenerated(scene=scene):
            _require(state, "storyboard_review", action="record a regenerated scene")
            requested = state.regenerating
            if not (
                isinstance(requested, SceneRegeneration)
                and requested.scene_number == scene.scene_number
            ):
                raise InvalidTransition(
                    f"no regeneration of scene {scene.scene_number} was requested",
                    status=state.status,
                )
            scene = check_scene(scene, state.asset_ids)
            scenes = [*state.scenes]
            scenes[scene.scene_number - 1] = scene
            total = check_total_duration(sum(s.duration for s in scenes))
            return [
                SceneRegenerated(
                    scene_number=scene.scene_number,
                    scene=scene,
                    duration_seconds=total,
                    planner=command.planner,
                    model=command.model,
                    feedback=requested.feedback,
                    usage=command.usage,
                )
            ]
        case FailRegeneration():
            _require(state, "storyboard_review", action="record a failed regeneration")
            if state.regenerating is None:
                return []
            return [
                RegenerationFailed(
                    scene_number=state.regenerating.scene_number
                    if isinstance(state.regenerating, SceneRegeneration)
                    else None,
                    code=command.code,
                    message=command.message,
                    usage=command.usage,
                )
            ]
        case RequestRegenerateAll():
            _require(state, "storyboard_review", action="regenerate all scenes")
            _require_idle(state, "regenerate all scenes")
            return [StoryboardRegenerationRequested(feedback=command.feedback or None)]
        case RejectStoryboard():
            _require(state, "storyboard_review", action="reject the storyboard")
            _require_idle(state, "reject the storyboard")
            if not command.feedback.strip():
                raise ValidationFailed(
                    "rejecting a storyboard needs feedback saying what to change",
                    [{"field": "feedback", "message": "required when rejecting"}],
                )
            return [StoryboardRejected(feedback=command.feedback.strip())]
        case UpdateScene():
            _require(state, "storyboard_review", action="edit a scene")
            _require_idle(state, "edit a scene")
            old = _scene(state, command.scene_number)
            changes = {
                k: v
                for k, v in msgspec.structs.asdict(command).items()
                if v is not None and k != "scene_number"
            }
            scene = check_scene(msgspec.structs.replace(old, **changes), state.asset_ids)
            if scene == old:
                return []
            scenes = [*state.scenes]
            scenes[scene.scene_number - 1] = scene
            total = check_total_duration(sum(s.duration for s in scenes))
            return [
                SceneUpdated(scene_number=scene.scene_number, scene=scene, duration_seconds=total)
            ]
        case Approve():
            _require(state, "storyboard_review", action="approve the storyboard")
            _require_idle(state, "approve the storyboard")
            # Narrations still being made do not block approval: the render waits for them.
            if failures := failed_scenes(state):
                first = failures[0]
                raise InvalidTransition(
                    f"cannot approve the storyboard: the narration of scene "
                    f"{first.scene_number} failed ({first.message}); edit or regenerate the "
                    "scene to narrate it again",
                    status=state.status,
                )
            return _queue_when_ready(state, [JobApproved()], command.render_estimate)
        case RecordNarration(narration=narration):
            _require(state, "storyboard_review", "in_progress", action="record a narration")
            events = record_narration(state, narration)
            return _queue_when_ready(state, events, command.render_estimate)
        case FailNarration():
            _require(state, "storyboard_review", "in_progress", action="record a failed narration")
            return fail_narration(
                state,
                command.scene_number,
                command.script,
                command.planned_duration,
                code=command.code,
                message=command.message,
            )
        case StartRender():
            _require(state, "in_progress", "rendering", action="start rendering")
            return [RenderStarted(attempt=state.render_attempts + 1, worker=command.worker)]
        case ReportProgress():
            _require(state, "rendering", action="report render progress")
            percent = max(0, min(99, command.percent))  # 100 is reached by completion only
            if percent <= state.progress:
                return []  # progress never goes back, e.g. after a restarted render
            return [
                RenderProgress(
                    percent=percent,
                    eta_seconds=command.eta_seconds,
                    frames_done=command.frames_done,
                    frames_total=command.frames_total,
                )
            ]
        case CompleteRender(video=video):
            _require(state, "rendering", action="complete the render")
            return [
                RenderCompleted(
                    blob_id=video.blob_id,
                    duration_seconds=video.duration_seconds,
                    size_bytes=video.size_bytes,
                    width=video.width,
                    height=video.height,
                    render_seconds=video.render_seconds,
                    cost=command.cost,
                )
            ]
        case Fail():
            _require(
                state, "pending", "storyboard_review", "in_progress", "rendering", action="fail"
            )
            return [
                JobFailed(
                    code=command.code,
                    message=command.message,
                    stage=command.stage,
                    usage=command.usage,
                )
            ]
        case Cancel():
            _require(
                state, "pending", "storyboard_review", "in_progress", "rendering", action="cancel"
            )
            return [JobCancelled(reason=command.reason)]
    raise TypeError(f"unknown command {type(command).__name__}")


def _queue_when_ready(
    state: JobState, events: list[Event], estimate: RenderEstimate | None
) -> list[Event]:
    """`events`, and job.render_queued if they make the job ready to render: the one place a
    job joins the render queue, whichever event (approval or last narration) completes it."""
    if not events or ready_to_render(state):
        return events
    after = fold(events, state)
    if not ready_to_render(after):
        return events
    seconds = round(sum(s.duration for s in after.scenes), 3)
    eta = estimate.eta(seconds) if estimate is not None else None
    return [*events, RenderQueued(video_seconds=seconds, eta_seconds=eta)]


# ---- evolve ---------------------------------------------------------------------------------


def evolve(state: JobState, event: Event) -> JobState:
    replace = msgspec.structs.replace
    state = replace(state, version=state.version + 1)
    match event:
        case JobCreated():
            return replace(
                state,
                job_id=event.job_id,
                user_id=event.user_id,
                context=event.context,
                ad_basics=event.ad_basics,
                creative=event.creative,
                duration_seconds=event.creative.duration_seconds,
                awaiting_assets=frozenset(
                    a.asset_id for a in event.creative.assets if a.url is not None
                ),
            )
        case AssetDownloaded():
            return replace(
                state,
                awaiting_assets=state.awaiting_assets - {event.asset_id},
                blobs={**state.blobs, event.asset_id: event.blob_id},
                cost=replace(state.cost, storage=state.cost.storage + event.cost),
            )
        case ScenesGenerated():
            return replace(
                state,
                status="storyboard_review",
                scenes=tuple(event.scenes),
                duration_seconds=event.duration_seconds,
                storyboards=state.storyboards + 1,
                regenerating=None,
                narrations=prune(state.narrations, event.scenes),
                narration_failures={},
                revised_scenes=frozenset(),
                planner=event.planner,
                model=event.model,
                cost=replace(state.cost, planning=state.cost.planning + event.usage.cost),
            )
        case SceneRegenerationRequested():
            return replace(
                state,
                regenerating=SceneRegeneration(
                    scene_number=event.scene_number, feedback=event.feedback
                ),
                regeneration_error=None,
            )
        case StoryboardRegenerationRequested():
            return replace(
                state,
                regenerating=StoryboardRegeneration(
                    reason="regenerate_all", feedback=event.feedback
                ),
                regeneration_error=None,
            )
        case StoryboardRejected():
            return replace(
                state,
                regenerating=StoryboardRegeneration(reason="reject", feedback=event.feedback),
                regeneration_error=None,
            )
        case SceneRegenerated() | SceneUpdated():
            scenes = [*state.scenes]
            scenes[event.scene_number - 1] = event.scene
            usage_cost = event.usage.cost if isinstance(event, SceneRegenerated) else 0.0
            failures = dict(state.narration_failures)
            failures.pop(event.scene_number, None)
            return replace(
                state,
                scenes=tuple(scenes),
                narrations=prune(state.narrations, scenes),
                narration_failures=failures,
                revised_scenes=state.revised_scenes | {event.scene_number},
                duration_seconds=event.duration_seconds,
                regenerations=state.regenerations + isinstance(event, SceneRegenerated),
                regenerating=None if isinstance(event, SceneRegenerated) else state.regenerating,
                cost=replace(state.cost, planning=state.cost.planning + usage_cost),
            )
        case RegenerationFailed():
            return replace(
                state,
                regenerating=None,
                regeneration_error=JobError(code=event.code, message=event.message),
                cost=replace(state.cost, planning=state.cost.planning + event.usage.cost),
            )
        case JobApproved():
            return replace(state, status="in_progress")
        case NarrationSynthesized():
            scenes = [*state.scenes]
            number = event.scene_number
            if 1 <= number <= len(scenes):
                scenes[number - 1] = replace(scenes[number - 1], duration=event.scene_duration)
            failures = dict(state.narration_failures)
            failures.pop(number, None)
            return replace(
                state,
                scenes=tuple(scenes),
                duration_seconds=event.storyboard_seconds,
                narrations={**state.narrations, number: Narration.of(event)},
                narration_failures=failures,
                cost=replace(state.cost, voiceover=state.cost.voiceover + event.cost),
            )
        case NarrationFailed():
            failure = NarrationFailure(
                scene_number=event.scene_number,
                script=event.script,
                code=event.code,
                message=event.message,
            )
            return replace(
                state, narration_failures={**state.narration_failures, event.scene_number: failure}
            )
        case RenderStarted():
            return replace(state, status="rendering", render_attempts=event.attempt)
        case RenderProgress():
            return replace(state, progress=max(state.progress, event.percent))
        case RenderCompleted():
            return replace(
                state,
                status="completed",
                progress=100,
                video=Video(
                    blob_id=event.blob_id,
                    duration_seconds=event.duration_seconds,
                    size_bytes=event.size_bytes,
                    width=event.width,
                    height=event.height,
                    render_seconds=event.render_seconds,
                ),
                cost=replace(state.cost, rendering=state.cost.rendering + event.cost),
            )
        case JobFailed():
            return replace(
                state,
                status="failed",
                regenerating=None,
                error=JobError(code=event.code, message=event.message, stage=event.stage),
                cost=replace(state.cost, planning=state.cost.planning + event.usage.cost),
            )
        case JobCancelled():
            return replace(state, status="cancelled", regenerating=None)
    return state


def fold(events: list[Event], state: JobState | None = None) -> JobState:
    state = state or JobState()
    for event in events:
        state = evolve(state, event)
    return state
