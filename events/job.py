"""Events of a job's stream (`job-<id>`): creation, assets, storyboard review, render, endings."""

from __future__ import annotations

from typing import Literal

import msgspec

from .asset import AssetMetadata, AssetType
from .base import Event, Usage
from .narration import NarrationFailed, NarrationSynthesized
from .scene import Scene

AspectRatio = Literal["16:9", "9:16", "1:1"]
Resolution = Literal["720p", "1080p"]
StoryboardReason = Literal["initial", "regenerate_all", "reject"]


class JobContext(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    client_id: str
    campaign_id: str | None = None


class AdBasics(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    product: str
    target_audience: str
    key_message: str
    call_to_action: str


class Direction(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    style: str
    tone: str = ""
    visual_elements: list[str] = []


class JobAssetRef(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An asset the job uses; `url` is set when the downloader must fetch it first."""

    asset_id: str
    type: AssetType
    name: str = ""
    url: str | None = None


class Voiceover(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Whether the scripts are spoken, and how; the voice is resolved when the job is created, so
    a later change of the deployment's default does not change a job in flight."""

    enabled: bool = True
    voice: str = ""
    speed: float = 1.0


class Creative(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    direction: Direction
    assets: list[JobAssetRef] = []
    duration_seconds: float = 30.0
    aspect_ratio: AspectRatio = "16:9"
    resolution: Resolution = "1080p"
    # None on jobs created before adpipe could speak: they have no narration, as then.
    voiceover: Voiceover | None = None


class JobCreated(Event, frozen=True, kw_only=True, tag="job.created"):
    job_id: str
    user_id: str
    context: JobContext
    ad_basics: AdBasics
    creative: Creative


class AssetDownloaded(Event, frozen=True, kw_only=True, tag="job.asset_downloaded"):
    asset_id: str
    url: str
    blob_id: str
    metadata: AssetMetadata
    cost: float = 0.0


class ScenesGenerated(Event, frozen=True, kw_only=True, tag="job.scenes_generated"):
    """A whole storyboard; a later one replaces the earlier, which stays in the history."""

    scenes: list[Scene]
    duration_seconds: float
    planner: Literal["builtin", "llm"]
    model: str | None = None
    reason: StoryboardReason = "initial"
    feedback: str | None = None
    usage: Usage = Usage()


class SceneRegenerationRequested(
    Event, frozen=True, kw_only=True, tag="job.scene_regeneration_requested"
):
    scene_number: int
    feedback: str | None = None


class StoryboardRegenerationRequested(
    Event, frozen=True, kw_only=True, tag="job.storyboard_regeneration_requested"
):
    feedback: str | None = None


class StoryboardRejected(Event, frozen=True, kw_only=True, tag="job.storyboard_rejected"):
    """The user rejected the storyboard; the planner regenerates all of it with the feedback."""

    feedback: str


class SceneRegenerated(Event, frozen=True, kw_only=True, tag="job.scene_regenerated"):
    scene_number: int
    scene: Scene
    duration_seconds: float
    planner: Literal["builtin", "llm"]
    model: str | None = None
    feedback: str | None = None
    usage: Usage = Usage()


class RegenerationFailed(Event, frozen=True, kw_only=True, tag="job.regeneration_failed"):
    """A requested regeneration could not be made; the storyboard stays as it was, in review."""

    scene_number: int | None = None
    code: str
    message: str
    usage: Usage = Usage()  # what the failed attempts spent: the job's cost includes it


class SceneUpdated(Event, frozen=True, kw_only=True, tag="job.scene_updated"):
    """A user's edit of one scene; `duration_seconds` is the storyboard's new total."""

    scene_number: int
    scene: Scene
    duration_seconds: float


class JobApproved(Event, frozen=True, kw_only=True, tag="job.approved"):
    """The storyboard is approved and locked; rendering may start."""


class RenderQueued(Event, frozen=True, kw_only=True, tag="job.render_queued"):
    """The job is ready to render (approved, every narration in) and waits for a renderer.

    Appended with the event that made it ready. Renders start in this order (the order of the
    log); the read model ranks the jobs queued and not yet started for their `queuePosition`.
    `eta_seconds` is the estimate when queued, the wait for the renders ahead included.
    """

    video_seconds: float
    eta_seconds: float | None = None


class RenderStarted(Event, frozen=True, kw_only=True, tag="job.render_started"):
    attempt: int = 1
    worker: str = ""


class RenderProgress(Event, frozen=True, kw_only=True, tag="job.render_progress"):
    percent: int
    eta_seconds: float | None = None
    frames_done: int = 0
    frames_total: int = 0


class RenderCompleted(Event, frozen=True, kw_only=True, tag="job.render_completed"):
    blob_id: str
    duration_seconds: float
    size_bytes: int
    width: int
    height: int
    render_seconds: float
    cost: float = 0.0


class JobFailed(Event, frozen=True, kw_only=True, tag="job.failed"):
    code: str
    message: str
    stage: str = ""
    usage: Usage = Usage()  # LLM calls of a planning that never produced a valid storyboard


class JobCancelled(Event, frozen=True, kw_only=True, tag="job.cancelled"):
    reason: str = ""


JOB_EVENTS: tuple[type[Event], ...] = (
    JobCreated,
    AssetDownloaded,
    ScenesGenerated,
    SceneRegenerationRequested,
    StoryboardRegenerationRequested,
    StoryboardRejected,
    SceneRegenerated,
    RegenerationFailed,
    SceneUpdated,
    JobApproved,
    RenderQueued,
    RenderStarted,
    RenderProgress,
    RenderCompleted,
    JobFailed,
    JobCancelled,
    NarrationSynthesized,
    NarrationFailed,
)
