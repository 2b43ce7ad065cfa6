"""The JSON the API answers (camelCase, as in the seed) and how read-model rows become it.

Jobs and assets are served as stored: their projections write `job_view` / `asset_view` encoded
(`jobs.view`, `assets.view`), and a read returns those bytes. `STORED_VIEWS_REVISION` with the
shapes of the structs below versions them: a change rebuilds the projections (see
`adpipe.projector.shape_version`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from adpipe.domain.job import JobState, Status
from adpipe.domain.narration import adjustments
from adpipe.domain.regeneration import SceneRegeneration, StoryboardRegeneration
from adpipe.events.asset import AssetType
from adpipe.events.job import AdBasics, AspectRatio, Direction, JobContext, Resolution, Voiceover
from adpipe.pricing import CostBreakdown

from .narration_views import API as API  # the /api/v3 prefix, shared with the other views
from .narration_views import (
    SceneVoiceoverView,
    SubtitlesUrls,
    scene_voiceover,
    subtitles_urls,
)

# Bump when what job_view/asset_view compute changes without any struct changing shape: the
# stored views are then rebuilt from the log.
STORED_VIEWS_REVISION = 1


class View(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class ClientView(View, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    website: str | None
    brand_colors: list[str]
    created_at: datetime
    updated_at: datetime


class CampaignView(View, frozen=True, kw_only=True):
    id: str
    client_id: str
    name: str
    description: str
    objective: str
    budget: float | None
    start_date: str | None
    end_date: str | None
    created_at: datetime
    updated_at: datetime


class ErrorView(View, frozen=True, kw_only=True):
    code: str
    message: str


class AssetView(View, frozen=True, kw_only=True):
    id: str
    name: str
    type: AssetType
    status: Literal["pending", "ready", "failed"]
    # /api/v3/assets/{id}/data: the bytes, once the status is ready.
    url: str
    thumbnail_url: str | None
    source_url: str | None
    format: str | None
    content_type: str | None
    size: int | None
    width: int | None
    height: int | None
    duration: float | None
    tags: list[str]
    client_id: str | None
    campaign_id: str | None
    job_id: str | None
    error: ErrorView | None
    created_at: datetime
    updated_at: datetime


class SceneView(View, frozen=True, kw_only=True):
    scene_number: int
    duration: float
    description: str
    script: str
    shot_type: str
    transition: str
    assets: list[str]
    # The script spoken: listen at `voiceover.url` once its status is ready.
    voiceover: SceneVoiceoverView


class CreativeAssetView(View, frozen=True, kw_only=True):
    id: str
    type: AssetType
    name: str
    url: str
    source_url: str | None


class CreativeView(View, frozen=True, kw_only=True):
    direction: Direction
    assets: list[CreativeAssetView]
    duration_seconds: float
    aspect_ratio: AspectRatio
    resolution: Resolution
    # None for jobs created before adpipe could speak (they have no narration).
    voiceover: Voiceover | None = None


class CostView(View, frozen=True, kw_only=True):
    total: float
    currency: str
    breakdown: CostBreakdown


class PlannerView(View, frozen=True, kw_only=True):
    name: str
    model: str | None


class PendingActionView(View, frozen=True, kw_only=True):
    """What the planner is regenerating right now for the user."""

    action: Literal["regenerate_scene", "regenerate_all_scenes", "reject_storyboard"]
    scene_number: int | None = None
    feedback: str | None = None


class JobView(View, frozen=True, kw_only=True):
    id: str
    status: Status
    context: JobContext
    ad_basics: AdBasics
    creative: CreativeView
    scenes: list[SceneView]
    assets: list[AssetView]
    # Render progress, 0–100 (100 once completed).
    progress: int
    # Approved and waiting for a free renderer: 1 for the next render to start; null otherwise.
    queue_position: int | None = None
    # Seconds until the video should be ready, the wait in the queue included; null unless the
    # job is queued or rendering.
    eta_seconds: float | None = None
    # The storyboard's total length (the creative's target until scenes exist).
    duration_seconds: float
    cost: CostView
    video_url: str | None
    error: ErrorView | None
    planner: PlannerView | None
    pending_action: PendingActionView | None
    # Why the last requested regeneration could not be made; the storyboard stayed as it was.
    regeneration_error: ErrorView | None = None
    # What fitting the narration changed ("Scene 2: The scene was lengthened from 4 s to 5.3 s…").
    adjustments: list[str] = []
    # The subtitles as WebVTT and SRT sidecars, once the job is completed.
    subtitles_urls: SubtitlesUrls | None = None
    created_at: datetime
    updated_at: datetime


class Page(View, frozen=True, kw_only=True):
    """One page of a list: `total` items in all, `page_size` per page, pages counted from 1.
    Each list names its own page (below, the webhooks', a job's history) so the OpenAPI document
    keeps a named schema with typed `items` for each."""

    total: int
    page: int
    page_size: int


class ClientPage(Page, frozen=True, kw_only=True):
    items: list[ClientView]


class CampaignPage(Page, frozen=True, kw_only=True):
    items: list[CampaignView]


class AssetPage(Page, frozen=True, kw_only=True):
    items: list[AssetView]


class JobPage(Page, frozen=True, kw_only=True):
    items: list[JobView]


class Stats(View, frozen=True, kw_only=True):
    jobs_by_status: dict[str, int]
    total_jobs: int
    completed_videos: int
    total_seconds_rendered: float
    total_cost: float
    currency: str
    assets: int


class ClientStats(Stats, frozen=True, kw_only=True):
    client_id: str
    campaigns: int


class CampaignStats(Stats, frozen=True, kw_only=True):
    campaign_id: str
    client_id: str


# ---- rows -> views -----------------------------------------------------------------------------


def client_view(row: dict[str, Any]) -> ClientView:
    return ClientView(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        website=row["website"],
        brand_colors=list(row["brand_colors"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def campaign_view(row: dict[str, Any]) -> CampaignView:
    return CampaignView(
        id=row["id"],
        client_id=row["client_id"],
        name=row["name"],
        description=row["description"],
        objective=row["objective"],
        budget=row["budget"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def asset_data_url(asset_id: str) -> str:
    return f"{API}/assets/{asset_id}/data"


def asset_view(row: dict[str, Any]) -> AssetView:
    asset_id = row["id"]
    error = None
    if row["status"] == "failed":
        error = ErrorView(code=row["error_code"] or "failed", message=row["error_message"] or "")
    return AssetView(
        id=asset_id,
        name=row["name"],
        type=row["type"],
        status=row["status"],
        url=asset_data_url(asset_id),
        thumbnail_url=f"{API}/assets/{asset_id}/thumbnail" if row["thumbnail_blob_id"] else None,
        source_url=row["source_url"],
        format=row["format"],
        content_type=row["content_type"],
        size=row["size"],
        width=row["width"],
        height=row["height"],
        duration=row["duration"],
        tags=list(row["tags"]),
        client_id=row["client_id"],
        campaign_id=row["campaign_id"],
        job_id=row["job_id"],
        error=error,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def scene_view_of(state: JobState, scene: Any) -> SceneView:
    return SceneView(
        scene_number=scene.scene_number,
        duration=scene.duration,
        description=scene.description,
        script=scene.script,
        shot_type=scene.shot_type,
        transition=scene.transition,
        assets=list(scene.assets),
        voiceover=scene_voiceover(state, scene),
    )


def _pending(state: JobState) -> PendingActionView | None:
    match state.regenerating:
        case SceneRegeneration(scene_number=number, feedback=feedback):
            return PendingActionView(
                action="regenerate_scene", scene_number=number, feedback=feedback
            )
        case StoryboardRegeneration(reason="reject", feedback=feedback):
            return PendingActionView(action="reject_storyboard", feedback=feedback)
        case StoryboardRegeneration(feedback=feedback):
            return PendingActionView(action="regenerate_all_scenes", feedback=feedback)
    return None


def job_view(state: JobState, *, created_at: datetime, updated_at: datetime) -> JobView:
    """A job document from its folded state, as the jobs projection stores it: without its
    `assets` (the assets read model's rows, added when it is read), with the currency left
    empty (the API's setting, filled in when it is read), and without a place in the render
    queue (added when it is read: it moves as other renders start and end)."""
    assert state.context and state.ad_basics and state.creative
    creative = state.creative
    cost = state.cost
    return JobView(
        id=state.job_id,
        status=state.status,
        context=state.context,
        ad_basics=state.ad_basics,
        creative=CreativeView(
            direction=creative.direction,
            assets=[
                CreativeAssetView(
                    id=a.asset_id,
                    type=a.type,
                    name=a.name,
                    url=asset_data_url(a.asset_id),
                    source_url=a.url,
                )
                for a in creative.assets
            ],
            duration_seconds=creative.duration_seconds,
            aspect_ratio=creative.aspect_ratio,
            resolution=creative.resolution,
            voiceover=creative.voiceover,
        ),
        scenes=[scene_view_of(state, s) for s in state.scenes],
        assets=[],
        progress=state.progress,
        duration_seconds=state.duration_seconds,
        cost=CostView(
            total=cost.total,
            currency="",
            breakdown=CostBreakdown(
                planning=round(cost.planning, 6),
                rendering=round(cost.rendering, 6),
                storage=round(cost.storage, 6),
                voiceover=round(cost.voiceover, 6),
            ),
        ),
        video_url=f"{API}/jobs/{state.job_id}/video" if state.status == "completed" else None,
        error=ErrorView(code=state.error.code, message=state.error.message)
        if state.error
        else None,
        planner=PlannerView(name=state.planner, model=state.model) if state.planner else None,
        pending_action=_pending(state),
        regeneration_error=ErrorView(
            code=state.regeneration_error.code, message=state.regeneration_error.message
        )
        if state.regeneration_error
        else None,
        adjustments=adjustments(state),
        subtitles_urls=subtitles_urls(state.job_id) if state.status == "completed" else None,
        created_at=created_at,
        updated_at=updated_at,
    )


class _RawPage(View, frozen=True, kw_only=True):
    items: list[msgspec.Raw]
    total: int
    page: int
    page_size: int


def page_json(items: list[str], total: int, page: int, page_size: int) -> bytes:
    """A page ({items, total, page, pageSize}) of documents already encoded as JSON."""
    raw = [msgspec.Raw(i.encode()) for i in items]
    return _encoder.encode(_RawPage(items=raw, total=total, page=page, page_size=page_size))


def encoded(view: View) -> str:
    """A view as stored in its read model's `view` column."""
    return _encoder.encode(view).decode()


_encoder = msgspec.json.Encoder()
