"""`POST /jobs/{id}/actions`: the storyboard review (regenerate, approve, reject) and cancel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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
from adpipe.errors import ValidationFailed
from adpipe.jobs import execute, job_stream
from adpipe.render_queue import estimate_now

from .errors import problem_specs
from .fields import Feedback, IdempotencyKey, Prefer
from .idempotency import Reply, run_once
from .job_access import job_document, narrating, owned_job, wait_for_job
from .state import ApiState, IdSource, request_metadata
from .views import JobView

Action = Literal[
    "regenerate_scene",
    "regenerate",  # the seed's spelling of regenerate_scene
    "regenerate_all_scenes",
    "approve_storyboard",
    "reject_storyboard",
    "cancel",
]
REGENERATING = frozenset(
    {"regenerate_scene", "regenerate", "regenerate_all_scenes", "reject_storyboard"}
)


class ActionBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    action: Action
    # Required by regenerate_scene: the scene to regenerate.
    scene_number: Annotated[int, Meta(ge=1, le=1000)] | None = None
    # What to change (regenerations); required by reject_storyboard; a reason for cancel.
    feedback: Feedback | None = None


def command_for(body: ActionBody) -> Command:
    feedback = (body.feedback or "").strip() or None
    match body.action:
        case "regenerate_scene" | "regenerate":
            if body.scene_number is None:
                raise ValidationFailed(
                    "regenerating a scene needs its sceneNumber",
                    [{"field": "sceneNumber", "message": "required for this action"}],
                )
            return RequestSceneRegeneration(scene_number=body.scene_number, feedback=feedback)
        case "regenerate_all_scenes":
            return RequestRegenerateAll(feedback=feedback)
        case "approve_storyboard":
            return Approve()
        case "reject_storyboard":
            if feedback is None:
                raise ValidationFailed(
                    "rejecting a storyboard needs feedback saying what to change",
                    [{"field": "feedback", "message": "required when rejecting"}],
                )
            return RejectStoryboard(feedback=feedback)
        case "cancel":
            return Cancel(reason=feedback or "cancelled by the user")


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
        _, recorded = await execute(
            store, job_id, command, request_metadata(request, user), event_ids=[event_id]
        )
        position = recorded[-1].position if recorded else 0
    if position:
        await api.settle(position)
    regenerating = data.action in REGENERATING
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
    view = await job_document(api, user, job_id)
    still_running = regenerating and view.pending_action is not None
    headers = {"location": f"/api/v3/jobs/{job_id}"}
    return Reply.of(202 if still_running else 200, view, headers)
