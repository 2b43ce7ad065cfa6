"""The `jobs` and `job_scenes` read models, folded with the job aggregate's own `evolve`, and the
render queue beside them (projections/render_queue.py).

`jobs.view` is the job document the API serves (`adpipe.api.views.job_view`, camelCase JSON),
written here so a read is one query that returns it as stored. `jobs.state` holds the
aggregate's state as JSON, the fold this projection continues from and what the API's waits
and blob routes check; the other columns are that state flattened for filters and stats. Both
JSON columns are versioned by their shapes (`version`): a JobState or JobView field renamed
makes the projector rebuild the table from the log rather than decode old rows with the field
reset to its default.

`job_scenes` is the seed's table of the storyboard, for SQL readers; the API serves scenes from
the job document alone (one source: the scenes a job answers and /scenes cannot differ).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.api.views import STORED_VIEWS_REVISION, JobView, encoded, job_view
from adpipe.domain.job import JobState, evolve
from adpipe.events.job import JOB_EVENTS, SceneRegenerated, ScenesGenerated, SceneUpdated
from adpipe.events.narration import NarrationSynthesized
from adpipe.projector import Projection, shape_version

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
    version = shape_version(STORED_VIEWS_REVISION, JobState, JobView)

    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None:
        job_id = envelope.entity_id
        cur = await conn.execute("SELECT state::text, created_at FROM jobs WHERE id = %s", [job_id])
        row = await cur.fetchone()
        if row is None and envelope.version != 1:
            return  # not a job this read model knows (its creation was never recorded)
        before = decode_state(row[0]) if row else JobState()
        if before.version >= envelope.version:
            return  # already folded in
        state = evolve(before, envelope.data)
        created_at = row[1] if row else envelope.recorded_at
        view = job_view(state, created_at=created_at, updated_at=envelope.recorded_at)
        await _upsert_job(conn, state, encoded(view), envelope)
        await _update_scenes(conn, job_id, state, envelope)
        await fold_render_queue(conn, envelope)


async def _upsert_job(
    conn: AsyncConnection[Any], state: JobState, view: str, envelope: Envelope
) -> None:
    assert state.context is not None and state.creative is not None
    video = state.video
    await conn.execute(
        "INSERT INTO jobs (id, user_id, client_id, campaign_id, status, progress, pending,"
        " asset_ids, cost_planning, cost_rendering, cost_storage, cost_total, video_blob_id,"
        " video_seconds, state, view, version, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb,"
        " %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
        " progress = excluded.progress, pending = excluded.pending,"
        " cost_planning = excluded.cost_planning, cost_rendering = excluded.cost_rendering,"
        " cost_storage = excluded.cost_storage, cost_total = excluded.cost_total,"
        " video_blob_id = excluded.video_blob_id, video_seconds = excluded.video_seconds,"
        " state = excluded.state, view = excluded.view, version = excluded.version,"
        " updated_at = excluded.updated_at",
        [
            state.job_id,
            state.user_id,
            state.context.client_id,
            state.context.campaign_id,
            state.status,
            state.progress,
            state.regenerating.describe() if state.regenerating else None,
            sorted(state.asset_ids),
            state.cost.planning,
            state.cost.rendering,
            state.cost.storage,
            state.cost.total,
            video.blob_id if video else None,
            video.duration_seconds if video else None,
            _encoder.encode(state).decode(),
            view,
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
