"""/api/v3/jobs/{id}/scenes: the storyboard's scenes; edits only while it is under review."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, put
from msgspec import Meta

from adpipe.domain.job import UpdateScene
from adpipe.errors import NotFound
from adpipe.jobs import execute

from .errors import problem_specs
from .fields import Id, Label, Text
from .job_access import job_row, judged_by_the_job, narrating, owned_job, wait_for_job
from .state import ApiState, request_metadata
from .views import SceneView, job_state, scene_view_of


class SceneEdit(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The fields to change; those left out keep their value. Durations must still add up to
    an ad of 6–120 s, and assets must be the job's own."""

    description: Text | None = None
    script: Text | None = None
    duration: Annotated[float, Meta(ge=0.5, le=120)] | None = None
    shot_type: Label | None = None
    transition: Label | None = None
    assets: Annotated[list[Id], Meta(max_length=20)] | None = None


async def _scene(api: ApiState, user: str, job_id: str, number: int) -> SceneView:
    state = job_state(await job_row(api, user, job_id))
    if not 1 <= number <= len(state.scenes):
        raise NotFound(f"job {job_id} has no scene {number}")
    return scene_view_of(state, state.scenes[number - 1])


@get("/{job_id:str}/scenes", summary="The job's scenes, in order", responses=problem_specs(404))
async def list_scenes(api: ApiState, user: str, job_id: str) -> list[SceneView]:
    # From the job's folded state (the jobs read model), which knows each scene's narration.
    state = job_state(await job_row(api, user, job_id))
    return [scene_view_of(state, s) for s in state.scenes]


@get(
    "/{job_id:str}/scenes/{scene_number:int}",
    summary="One scene",
    responses=problem_specs(404),
)
async def get_scene(api: ApiState, user: str, job_id: str, scene_number: int) -> SceneView:
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
) -> SceneView:
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
