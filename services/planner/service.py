"""The planner service: plan a storyboard when a job's assets are ready, and answer every
storyboard action (regenerate a scene, regenerate all, reject with feedback).

The handler acts on the job's state, not on the event that woke it: whichever event arrives,
it does what the job is waiting for, so duplicates and redeliveries find nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import msgspec

from adpipe.domain.job import (
    Fail,
    FailRegeneration,
    JobState,
    RecordSceneRegenerated,
    RecordStoryboard,
)
from adpipe.domain.regeneration import Regeneration, SceneRegeneration
from adpipe.events.asset import AssetStored
from adpipe.events.catalogue import Metadata, stream_id
from adpipe.jobs import execute, load_job
from adpipe.worker import Delivery, ServiceRunner, service_spec

from .engine import (
    Brief,
    PlannerAsset,
    PlannerSettings,
    PlanningFailed,
    plan_storyboard,
    regenerate_scene,
)

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from adpipe.context import Core

log = logging.getLogger(__name__)
NAME = "planner"
SUBJECTS = [
    "adpipe.job.created",
    "adpipe.job.asset_downloaded",
    "adpipe.job.scene_regeneration_requested",
    "adpipe.job.storyboard_regeneration_requested",
    "adpipe.job.storyboard_rejected",
]


def brief_of(state: JobState) -> Brief:
    assert state.ad_basics is not None and state.creative is not None
    basics, creative = state.ad_basics, state.creative
    return Brief(
        product=basics.product,
        target_audience=basics.target_audience,
        key_message=basics.key_message,
        call_to_action=basics.call_to_action,
        style=creative.direction.style,
        tone=creative.direction.tone,
        visual_elements=list(creative.direction.visual_elements),
        duration_seconds=state.duration_seconds,
        aspect_ratio=creative.aspect_ratio,
    )


class Planner:
    def __init__(self, core: Core, settings: PlannerSettings) -> None:
        self.core = core
        self.settings = settings

    async def assets_of(self, state: JobState) -> list[PlannerAsset]:
        assert state.creative is not None
        assets = []
        for ref in state.creative.assets:
            stored = None
            for envelope in await self.core.store.read_stream(stream_id("asset", ref.asset_id)):
                if isinstance(envelope.data, AssetStored):
                    stored = envelope.data.metadata
            assets.append(
                PlannerAsset(
                    id=ref.asset_id,
                    type=ref.type,
                    name=ref.name,
                    width=stored.width if stored else None,
                    height=stored.height if stored else None,
                    duration=stored.duration if stored else None,
                )
            )
        return assets

    async def handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        job_id = envelope.entity_id
        meta = delivery.caused_metadata(NAME)
        state = await load_job(self.core.store, job_id)
        if state.ready_to_plan:
            await self.plan(state, meta)
        elif state.status == "storyboard_review" and state.regenerating is not None:
            await self.regenerate(state, state.regenerating, meta)

    async def plan(self, state: JobState, meta: Metadata) -> None:
        try:
            plan = await plan_storyboard(
                brief_of(state), await self.assets_of(state), self.settings
            )
        except PlanningFailed as exc:
            # Failed for good (retrying now would fail the same way); what the attempts spent is
            # recorded with the failure, so the job's cost is the truth.
            failure = Fail(
                code="planning_failed",
                message=f"planning failed: {exc.detail}",
                stage="planning",
                usage=exc.usage,
            )
            await execute(self.core.store, state.job_id, failure, meta)
            return
        command = RecordStoryboard(
            scenes=plan.scenes, planner=plan.planner, model=plan.model, usage=plan.usage
        )
        await execute(self.core.store, state.job_id, command, meta)

    async def regenerate(self, state: JobState, requested: Regeneration, meta: Metadata) -> None:
        brief, assets = brief_of(state), await self.assets_of(state)
        try:
            if isinstance(requested, SceneRegeneration):
                scene_plan = await regenerate_scene(
                    brief,
                    assets,
                    list(state.scenes),
                    requested.scene_number,
                    self.settings,
                    feedback=requested.feedback,
                    variant=state.regenerations + 1,
                )
                command: RecordSceneRegenerated | RecordStoryboard = RecordSceneRegenerated(
                    scene=scene_plan.scene,
                    planner=scene_plan.planner,
                    model=scene_plan.model,
                    usage=scene_plan.usage,
                )
            else:
                plan = await plan_storyboard(
                    brief,
                    assets,
                    self.settings,
                    feedback=requested.feedback,
                    previous=list(state.scenes),
                    variant=state.storyboards,
                )
                command = RecordStoryboard(
                    scenes=plan.scenes, planner=plan.planner, model=plan.model, usage=plan.usage
                )
        except PlanningFailed as exc:
            # A failed regeneration leaves the storyboard in review as it was, with the reason.
            failure = FailRegeneration(code="planning_failed", message=exc.detail, usage=exc.usage)
            await execute(self.core.store, state.job_id, failure, meta)
            return
        await execute(self.core.store, state.job_id, command, meta)


def planner_settings(core: Core) -> PlannerSettings:
    settings = core.settings.planner
    # The embedded runtime and tests name the model as llm_model (an override, not a variable).
    if core.settings.llm_model and settings.model is None:
        settings = msgspec.structs.replace(settings, model=core.settings.llm_model)
    return settings


async def run(core: Core, nc: NATS, stop: asyncio.Event) -> None:
    settings = core.settings
    planner = Planner(core, planner_settings(core))
    spec = service_spec(
        core.store,
        settings,
        name=NAME,
        subjects=SUBJECTS,
        handle=planner.handle,
        stage="planning",
    )
    await ServiceRunner(spec, nc.jetstream()).run(stop)
