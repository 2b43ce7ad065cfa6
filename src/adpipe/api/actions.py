"""`POST /jobs/{id}/actions`: the storyboard review (regenerate, approve, reject) and cancel."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Meta

from adpipe.domain.job import (
    Approve,
    Cancel,
    Command,
    RejectStoryboard,
    RequestRegenerateAll,
    RequestSceneRegeneration,
)
from adpipe.jobs import execute, job_stream
from adpipe.render_queue import estimate_now

from .errors import problem_specs
from .fields import NON_BLANK, Feedback, IdempotencyKey, Prefer
from .idempotency import Reply, run_once
from .job_access import job_document, judged_by_the_job, narrating, owned_job, wait_for_job
from .state import ApiState, IdSource, request_metadata
from .views import JobView

SceneNumber = Annotated[int, Meta(ge=1, le=1000)]
# What rejecting asks the planner to change: required, and more than blanks.
RejectFeedback = Annotated[str, Meta(min_length=1, max_length=2000, pattern=NON_BLANK)]


class _Action(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="action"):
    """One member of the body's tagged union: `action` names it, and each action requires
    exactly its own fields, so the schema's `oneOf` (with a discriminator) is what is checked."""


class RegenerateScene(_Action, frozen=True, kw_only=True, tag="regenerate_scene"):
    scene_number: SceneNumber
    # What to change.
    feedback: Feedback | None = None


class RegenerateSceneSeed(RegenerateScene, frozen=True, kw_only=True, tag="regenerate"):
    """The seed's spelling of regenerate_scene."""


class RegenerateAllScenes(_Action, frozen=True, kw_only=True, tag="regenerate_all_scenes"):
    feedback: Feedback | None = None


class ApproveStoryboard(_Action, frozen=True, kw_only=True, tag="approve_storyboard"):
    pass


class RejectStoryboardAction(_Action, frozen=True, kw_only=True, tag="reject_storyboard"):
    feedback: RejectFeedback


class CancelJob(_Action, frozen=True, kw_only=True, tag="cancel"):
    # Why, for the job's history (default: "cancelled by the user").
    feedback: Feedback | None = None


ActionBody = (
    RegenerateScene
    | RegenerateSceneSeed
    | RegenerateAllScenes
    | ApproveStoryboard
    | RejectStoryboardAction
    | CancelJob
)
REGENERATING = (RegenerateScene, RegenerateAllScenes, RejectStoryboardAction)


def command_for(body: ActionBody) -> Command:
    match body:
        case RegenerateScene():  # regenerate too (a subclass)
            feedback = (body.feedback or "").strip() or None
            return RequestSceneRegeneration(scene_number=body.scene_number, feedback=feedback)
        case RegenerateAllScenes():
            return RequestRegenerateAll(feedback=(body.feedback or "").strip() or None)
        case ApproveStoryboard():
            return Approve()
        case RejectStoryboardAction():
            return RejectStoryboard(feedback=body.feedback.strip())
        case CancelJob():
            return Cancel(reason=(body.feedback or "").strip() or "cancelled by the user")


@post(
    "/{job_id:str}/actions",
    status_code=200,
    summary="Act on a job: regenerate_scene (or regenerate), regenerate_all_scenes,"
    " approve_storyboard, reject_storyboard, cancel",
    responses={
        202: ResponseSpec(JobView, description="Accepted: the regeneration is still running"),
        **problem_specs(400, 404, 409, 413, 415, 422),
    },
)
async def action_handler(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    job_id: str,
    data: ActionBody,
    prefer: Prefer = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[JobView]:
    respond_async = prefer is not None and "respond-async" in prefer.lower()

    async def work(ids: IdSource) -> Reply:
        return await _act(api, user, request, job_id, data, ids, respond_async)

    return await run_once(api.core.pool, request, user, await request.body(), work)


async def _act(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    job_id: str,
    data: ActionBody,
    ids: IdSource,
    respond_async: bool,
) -> Reply:
    await owned_job(api, user, job_id)
    command = command_for(data)
    if isinstance(command, Approve):  # it may queue the render: say how long the wait is
        speed = api.settings.render_seconds_per_video_second
        command = Approve(render_estimate=await estimate_now(api.core.pool, speed))
    event_id = ids.new("event:action")
    store = api.core.store
    # A retry whose first attempt was recorded (its answer lost) must not act a second time.
    done = [e for e in await store.read_stream(job_stream(job_id)) if e.id == event_id]
    if done:
        position = done[0].position
    else:
        with judged_by_the_job():
            _, recorded = await execute(
                store, job_id, command, request_metadata(request, user), event_ids=[event_id]
            )
        position = recorded[-1].position if recorded else 0
    if position:
        await api.settle(position)
    regenerating = isinstance(data, REGENERATING)
    if regenerating and not respond_async:
        await wait_for_job(
            api,
            user,
            job_id,
            lambda row: (
                (row["pending"] is None and not narrating(row))
                or row["status"] != "storyboard_review"
            ),
            api.settings.storyboard_wait_seconds,
        )
    document = await job_document(api, user, job_id)
    still_running = regenerating and document.regenerating
    headers = {"location": f"/api/v3/jobs/{job_id}"}
    return Reply(202 if still_running else 200, document.body, headers)
