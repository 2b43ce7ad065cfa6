"""/api/v3/jobs/{id}/scenes: the storyboard's scenes; edits only while it is under review.

Scenes are served from the job document the jobs projection stores (its `scenes`), the same
source as GET /jobs/{id}, so the two can never disagree (the `job_scenes` table is for SQL
readers and is not read here).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, put
from msgspec import Meta

from adpipe.domain.job import UpdateScene
from adpipe.errors import NotFound
from adpipe.jobs import execute

from . import reads
from .errors import problem_specs
from .fields import Id, Label, Text
from .job_access import (
    json_response,
    judged_by_the_job,
    narrating,
    owned_job,
    wait_for_job,
)
from .state import ApiState, request_metadata
from .views import SceneView


class SceneEdit(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The fields to change; those left out keep their value. Durations must still add up to
    an ad of 6–120 s, and assets must be the job's own."""

    description: Text | None = None
    script: Text | None = None
    duration: Annotated[float, Meta(ge=0.5, le=120)] | None = None
    shot_type: Label | None = None
    transition: Label | None = None
    assets: Annotated[list[Id], Meta(max_length=20)] | None = None


async def _scene(api: ApiState, user: str, job_id: str, number: int) -> Response[SceneView]:
    found, scene = await reads.scene(api.reads, user, job_id, number)
    if not found:
        raise NotFound(f"job {job_id} does not exist")
    if scene is None:
        raise NotFound(f"job {job_id} has no scene {number}")
    return json_response(scene.encode())


@get("/{job_id:str}/scenes", summary="The job's scenes, in order", responses=problem_specs(404))
async def list_scenes(api: ApiState, user: str, job_id: str) -> Response[list[SceneView]]:
    row = await api.lookups.scenes.get(user, job_id)
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    return json_response(row["scenes"].encode())


@get(
    "/{job_id:str}/scenes/{scene_number:int}",
    summary="One scene",
    responses=problem_specs(404),
)
async def get_scene(
    api: ApiState, user: str, job_id: str, scene_number: int
) -> Response[SceneView]:
    return await _scene(api, user, job_id, scene_number)


@put(
    "/{job_id:str}/scenes/{scene_number:int}",
    summary="Edit a scene (only while the storyboard is under review)",
    responses=problem_specs(400, 404, 409, 413, 415, 422),
)
async def update_scene(
    api: ApiState,
    user: str,
    request: Request[Any, Any, Any],
    job_id: str,
    scene_number: int,
    data: SceneEdit,
) -> Response[SceneView]:
    state = await owned_job(api, user, job_id)
    if state.status == "storyboard_review" and not 1 <= scene_number <= len(state.scenes):
        raise NotFound(f"job {job_id} has no scene {scene_number}")
    command = UpdateScene(
        scene_number=scene_number,
        description=data.description,
        script=data.script,
        duration=data.duration,
        shot_type=data.shot_type,
        transition=data.transition,
        assets=data.assets,
    )
    with judged_by_the_job():
        _, recorded = await execute(
            api.core.store, job_id, command, request_metadata(request, user)
        )
    if recorded:
        await api.settle(recorded[-1].position)
        # Like the storyboard answers: the edited scene comes back with its new narration, unless
        # that takes longer than the bounded wait (then its voiceover says pending).
        await wait_for_job(
            api, user, job_id, lambda row: not narrating(row), api.settings.storyboard_wait_seconds
        )
    return await _scene(api, user, job_id, scene_number)


scene_handlers = [list_scenes, get_scene, update_scene]
