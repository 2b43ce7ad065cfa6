"""/api/v3/jobs: create a job (answered with its storyboard), estimate one, list, get, its video."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, Router, get, post, route
from litestar.openapi.datastructures import ResponseSpec

from adpipe.domain.job import CreateJob, JobState, Status
from adpipe.errors import Conflict
from adpipe.events.asset import AssetRegistered
from adpipe.events.catalogue import NewEvent, stream_id
from adpipe.events.job import JobCreated, Voiceover
from adpipe.jobs import execute, job_stream
from adpipe.observability import correlation
from adpipe.pricing import CostEstimate, estimate_job, scene_count_range
from adpipe.storage import url_secrets
from adpipe.storage.eventstore import NO_STREAM
from adpipe.voices import find_voice

from . import reads
from .actions import action_handler
from .blobs import BLOB_METHODS, blob_response
from .errors import problem_specs
from .fields import CampaignIdFilter, ClientIdFilter, IdempotencyKey, PageNumber, PageSize, Prefer
from .idempotency import Reply, run_once
from .job_access import (
    job_document,
    job_row,
    job_state,
    json_response,
    narrating,
    placed,
    wait_for_job,
)
from .job_requests import JobBody, resolve_creative
from .openapi import binary_response
from .refs import check_owner_refs, still_live
from .scenes import scene_handlers
from .state import ApiState, IdSource, request_metadata
from .views import API, JobPage, JobView, PlannerView, page_json
from .voice import narration_handlers

if TYPE_CHECKING:
    from adpipe.events.catalogue import Envelope, Metadata
    from adpipe.events.job import Creative
    from adpipe.storage.eventstore import EventStore, NoneSince


# What a create writes: its read-your-writes waits for the read models these change, not all.
CREATED_TYPES = (AssetRegistered.type_name(), JobCreated.type_name())


def wants_async(prefer: str | None) -> bool:
    return prefer is not None and "respond-async" in prefer.lower()


class SceneCount(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    min: int
    max: int


class DryRunView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    estimated_cost: CostEstimate
    estimated_duration_seconds: float
    scene_count: SceneCount
    planner: PlannerView
    # What would speak the scripts: the voice resolved as the job would record it.
    voiceover: Voiceover


@post(
    "/",
    summary="Create a job; answers it with its storyboard (201), or 202 while it is planned",
    responses={
        202: ResponseSpec(JobView, description="Accepted: the storyboard is not ready yet"),
        **problem_specs(400, 409, 413, 415, 422),
    },
)
async def create_job(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    data: JobBody,
    prefer: Prefer = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[JobView]:
    async def work(ids: IdSource) -> Reply:
        return await _create(api, user, request, data, ids, wants_async(prefer))

    return await run_once(api.core.pool, request, user, await request.body(), work)


async def _create(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    data: JobBody,
    ids: IdSource,
    respond_async: bool,
) -> Reply:
    job_id = ids.new("job")
    correlation.bind(job=job_id)  # the rest of this request's log lines are about the new job
    # Reserved from counting the user's unfinished jobs until this one is readable, so a burst
    # of concurrent creates cannot all pass the limit together.
    async with api.limits.job_slot(user, job_id):
        pool, store = api.core.pool, api.core.store
        guards = await check_owner_refs(
            pool, user, data.context.client_id, data.context.campaign_id, prefix="context"
        )
        creative, registered, full_urls = await resolve_creative(
            pool, user, data, ids, job_id, api.settings
        )
        # Assets given by id must still exist when the job commits: a delete racing this request
        # either sees the job (and refuses) or trips this guard (and the job is refused).
        guards += [still_live("asset", a.asset_id) for a in creative.assets if a.url is None]
        metadata = request_metadata(request, user)
        # The events hold the URLs redacted; the full ones (with credentials) are kept aside
        # before anything is appended, so the downloader finds them when it sees the job.
        # (Not again on a retry that finds the job made: its downloads may be done, and a row
        # written now would never be deleted.)
        # (Fresh ids cannot name a job already made: only a keyed retry needs to look.)
        if not ids.derived:
            await url_secrets.remember(pool, "asset", full_urls, new_owners=True)
        elif not await store.read_stream(job_stream(job_id)):
            await url_secrets.remember(pool, "asset", full_urls)
        try:
            position = await _append_job(
                store, user, data, job_id, creative, registered, ids, metadata, guards
            )
        except Exception:
            if not ids.derived or not await store.read_stream(job_stream(job_id)):
                # No job, so nothing will fetch these assets: their credentials go now.
                await url_secrets.forget(pool, "asset", list(full_urls))
            raise
        await api.settle(position, CREATED_TYPES)
    if not respond_async:
        await wait_for_job(
            api,
            user,
            job_id,
            lambda row: row["status"] != "pending" and not narrating(row),
            api.settings.storyboard_wait_seconds,
        )
    document = await job_document(api, user, job_id)
    headers = {"location": f"{API}/jobs/{job_id}"}
    if respond_async:
        # Honoured whatever the planner managed meanwhile: the client asked not to wait, and an
        # answer that depended on that race would be a surprise.
        headers["preference-applied"] = "respond-async"
        return Reply(202, document.body, headers)
    return Reply(202 if document.status == "pending" else 201, document.body, headers)


async def _append_job(
    store: EventStore,
    user: str,
    data: JobBody,
    job_id: str,
    creative: Creative,
    registered: list[AssetRegistered],
    ids: IdSource,
    metadata: Metadata,
    guards: list[NoneSince],
) -> int:
    """Appends the URL assets, then the job — in one batch, the job written only if the
    assets are; answers the job's position."""
    # Assets first: when the job's creation is seen, every asset it awaits already exists.
    assets = [
        store.append_soon(
            stream_id("asset", event.asset_id),
            [NewEvent(event=event, id=ids.new(f"event:asset:{event.asset_id}"))],
            NO_STREAM,
            metadata,
        )
        for event in registered
    ]
    try:
        return await _append_created(
            store, user, data, job_id, creative, ids, metadata, guards, assets
        )
    finally:
        # Each asset's own answer: the first error, if any, over the job's refusal it caused.
        for envelopes in await asyncio.gather(*assets, return_exceptions=True):
            if isinstance(envelopes, BaseException):
                raise envelopes


async def _append_created(
    store: EventStore,
    user: str,
    data: JobBody,
    job_id: str,
    creative: Creative,
    ids: IdSource,
    metadata: Metadata,
    guards: list[NoneSince],
    assets: list[asyncio.Future[list[Envelope]]],
) -> int:
    existing = await store.read_stream(job_stream(job_id)) if ids.derived else []
    if existing:  # a retry whose first attempt created the job but lost its answer
        return existing[0].position
    command = CreateJob(
        job_id=job_id,
        user_id=user,
        context=data.job_context(),
        ad_basics=data.ad_basics_value(),
        creative=creative,
    )
    _, recorded = await execute(
        store,
        job_id,
        command,
        metadata,
        event_ids=[ids.new("event:job.created")],
        guards=guards,
        known=None if ids.derived else JobState(),  # a fresh id names no job yet
        follows=assets,
    )
    return recorded[-1].position


@post(
    "/dry-run",
    status_code=200,
    summary="Estimate a job's cost and shape; nothing is stored",
    responses=problem_specs(400, 409, 413, 415, 422),
)
async def dry_run(api: ApiState, user: str, data: JobBody) -> DryRunView:
    pool = api.core.pool
    await check_owner_refs(
        pool, user, data.context.client_id, data.context.campaign_id, prefix="context"
    )
    settings = api.settings
    creative, registered, _ = await resolve_creative(
        pool, user, data, IdSource(user), "dry-run", settings
    )
    low, high = scene_count_range(creative.duration_seconds)
    voiceover = creative.voiceover
    assert voiceover is not None
    voice = find_voice(voiceover.voice, settings.tts_model) if voiceover.enabled else None
    return DryRunView(
        estimated_cost=estimate_job(
            duration_seconds=creative.duration_seconds,
            resolution=creative.resolution,
            url_asset_types=[e.asset_type for e in registered],
            model=settings.llm_model,
            prices=settings.prices,
            voiceover=voiceover.enabled,
            cloud_voice=voice is not None and voice.needs_network,
        ),
        estimated_duration_seconds=creative.duration_seconds,
        scene_count=SceneCount(min=low, max=high),
        planner=PlannerView(
            name="llm" if settings.llm_model else "builtin", model=settings.llm_model
        ),
        voiceover=voiceover,
    )


@get("/", summary="List jobs", responses=problem_specs(422))
async def list_jobs(
    api: ApiState,
    user: str,
    status: Status | None = None,
    client_id: ClientIdFilter = None,
    campaign_id: CampaignIdFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 20,
) -> Response[JobPage]:
    rows, total = await reads.job_documents(
        api.reads,
        user,
        api.settings.prices.currency,
        status=status,
        client_id=client_id,
        campaign_id=campaign_id,
        page=page,
        page_size=page_size,
    )
    return json_response(page_json(await placed(api, rows), total, page, page_size))


@get("/{job_id:str}", summary="Get a job, with its scenes", responses=problem_specs(404))
async def get_job(api: ApiState, user: str, job_id: str) -> Response[JobView]:
    return json_response((await job_document(api, user, job_id)).body)


@route(
    "/{job_id:str}/video",
    http_method=BLOB_METHODS,
    summary="The finished MP4 (supports Range, ETag / If-None-Match); 409 before completion",
    responses={**problem_specs(404, 409, 416), **binary_response("The MP4", "video/mp4")},
)
async def job_video(
    api: ApiState, user: str, request: Request[Any, Any, Any], job_id: str
) -> Response[Any]:
    state = job_state(await job_row(api, user, job_id))
    if state.status != "completed" or state.video is None:
        raise Conflict(
            f"job {job_id} is {state.status}; the video exists once it is completed",
            job_status=state.status,
        )
    return await blob_response(
        api.core.blobs,
        request,
        state.video.blob_id,
        "video/mp4",
        filename=f"adpipe-{job_id}.mp4",
    )


router = Router(
    path="/jobs",
    route_handlers=[
        create_job,
        dry_run,
        list_jobs,
        get_job,
        job_video,
        action_handler,
        *scene_handlers,
        *narration_handlers,
    ],
    tags=["jobs"],
)
