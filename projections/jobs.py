"""The `jobs` and `job_scenes` read models, folded with the job aggregate's own `evolve`, and the
render queue beside them (projections/render_queue.py).

`jobs.state` holds the aggregate's state as JSON, so the API shows exactly what the domain
decides with; the other columns are that state flattened for filters and stats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.domain.job import JobState, evolve
from adpipe.events.job import JOB_EVENTS, SceneRegenerated, ScenesGenerated, SceneUpdated
from adpipe.events.narration import NarrationSynthesized
from adpipe.projector import Projection

from .render_queue import fold_render_queue

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from adpipe.events.catalogue import Envelope
    from adpipe.events.scene import Scene

_state_decoder: msgspec.json.Decoder[JobState] = msgspec.json.Decoder(JobState)
_encoder = msgspec.json.Encoder()


def decode_state(raw: str | bytes) -> JobState:
    return _state_decoder.decode(raw)


class JobsProjection(Projection):
    name = "jobs"
    tables = ("jobs", "job_scenes", "render_queue", "render_speed")
    handles = frozenset(cls.type_name() for cls in JOB_EVENTS)

    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None:
        job_id = envelope.entity_id
        cur = await conn.execute("SELECT state::text FROM jobs WHERE id = %s", [job_id])
        row = await cur.fetchone()
        if row is None and envelope.version != 1:
            return  # not a job this read model knows (its creation was never recorded)
        before = decode_state(row[0]) if row else JobState()
        if before.version >= envelope.version:
            return  # already folded in
        state = evolve(before, envelope.data)
        await _upsert_job(conn, state, envelope)
        await _update_scenes(conn, job_id, state, envelope)
        await fold_render_queue(conn, envelope)


async def _upsert_job(conn: AsyncConnection[Any], state: JobState, envelope: Envelope) -> None:
    assert state.context is not None and state.creative is not None
    video = state.video
    await conn.execute(
        "INSERT INTO jobs (id, user_id, client_id, campaign_id, status, progress, pending,"
        " asset_ids, cost_planning, cost_rendering, cost_storage, cost_total, video_blob_id,"
        " video_seconds, state, version, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
        " progress = excluded.progress, pending = excluded.pending,"
        " cost_planning = excluded.cost_planning, cost_rendering = excluded.cost_rendering,"
        " cost_storage = excluded.cost_storage, cost_total = excluded.cost_total,"
        " video_blob_id = excluded.video_blob_id, video_seconds = excluded.video_seconds,"
        " state = excluded.state, version = excluded.version, updated_at = excluded.updated_at",
        [
            state.job_id,
            state.user_id,
            state.context.client_id,
            state.context.campaign_id,
            state.status,
            state.progress,
            state.pending,
            sorted(state.asset_ids),
            state.cost.planning,
            state.cost.rendering,
            state.cost.storage,
            state.cost.total,
            video.blob_id if video else None,
            video.duration_seconds if video else None,
            _encoder.encode(state).decode(),
            state.version,
            envelope.recorded_at,
            envelope.recorded_at,
        ],
    )


async def _update_scenes(
    conn: AsyncConnection[Any], job_id: str, state: JobState, envelope: Envelope
) -> None:
    event = envelope.data
    match event:
        case ScenesGenerated():
            await conn.execute("DELETE FROM job_scenes WHERE job_id = %s", [job_id])
            meta = {"origin": event.reason, "planner": event.planner, "model": event.model}
            if event.feedback:
                meta["feedback"] = event.feedback
            for scene in state.scenes:
                await _put_scene(conn, job_id, scene, meta, envelope)
        case SceneRegenerated():
            meta = {"origin": "regenerated", "planner": event.planner, "model": event.model}
            if event.feedback:
                meta["feedback"] = event.feedback
            await _put_scene(conn, job_id, event.scene, meta, envelope)
        case SceneUpdated():
            await _put_scene(conn, job_id, event.scene, {"origin": "edited"}, envelope)
        case NarrationSynthesized(lengthened=True):
            # The scene grew to hold its narration; where the scene came from is unchanged.
            await conn.execute(
                "UPDATE job_scenes SET duration_seconds = %s, updated_at = %s"
                " WHERE job_id = %s AND scene_number = %s",
                [event.scene_duration, envelope.recorded_at, job_id, event.scene_number],
            )


async def _put_scene(
    conn: AsyncConnection[Any],
    job_id: str,
    scene: Scene,
    meta: dict[str, Any],
    envelope: Envelope,
) -> None:
    await conn.execute(
        "INSERT INTO job_scenes (job_id, scene_number, duration_seconds, description, script,"
        " shot_type, transition, assets, metadata, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)"
        " ON CONFLICT (job_id, scene_number) DO UPDATE SET"
        " duration_seconds = excluded.duration_seconds, description = excluded.description,"
        " script = excluded.script, shot_type = excluded.shot_type,"
        " transition = excluded.transition, assets = excluded.assets,"
        " metadata = excluded.metadata, updated_at = excluded.updated_at",
        [
            job_id,
            scene.scene_number,
            scene.duration,
            scene.description,
            scene.script,
            scene.shot_type,
            scene.transition,
            _encoder.encode(scene.assets).decode(),
            _encoder.encode(meta).decode(),
            envelope.recorded_at,
            envelope.recorded_at,
        ],
    )
