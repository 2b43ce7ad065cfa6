"""The `render_queue` read model (folded by the jobs projection): jobs waiting for a renderer,
and how fast renders go.

A job joins with `job.render_queued` (at that event's global position, the order renderers take
jobs in), is marked started by `job.render_started`, follows its progress, and leaves when its
render ends (completed, failed, cancelled). A job's queue position is its rank among the rows not
started: computed from the log by any API process, whichever renderer replica holds the work.
`render_speed` keeps an average of seconds of rendering per second of video, for the estimates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adpipe.events.job import (
    JobCancelled,
    JobFailed,
    RenderCompleted,
    RenderProgress,
    RenderQueued,
    RenderStarted,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from adpipe.events.catalogue import Envelope

# Weight of the newest render in the average: recent renders say most about the next ones (the
# machine's load, the number of renderers), a few older ones smooth out one odd job.
SPEED_WEIGHT = 0.3


async def fold_render_queue(conn: AsyncConnection[Any], envelope: Envelope) -> None:
    """One job event into `render_queue` / `render_speed`. Called by the jobs projection, in its
    transaction: no reader of the log of its own (another follower and pooled connection per
    event, on two cores), and the queue is always exactly as current as the jobs it ranks."""
    job_id = envelope.entity_id
    match envelope.data:
        case RenderQueued(video_seconds=seconds):
            await conn.execute(
                "INSERT INTO render_queue (job_id, queued_at, video_seconds)"
                " VALUES (%s, %s, %s) ON CONFLICT (job_id) DO NOTHING",
                [job_id, envelope.position, seconds],
            )
        case RenderStarted():
            # A restarted render (a crash, a redelivery) starts from nothing again.
            await conn.execute(
                "UPDATE render_queue SET started = true, percent = 0 WHERE job_id = %s",
                [job_id],
            )
        case RenderProgress(percent=percent):
            await conn.execute(
                "UPDATE render_queue SET percent = greatest(percent, %s) WHERE job_id = %s",
                [percent, job_id],
            )
        case RenderCompleted(duration_seconds=video, render_seconds=took):
            await conn.execute("DELETE FROM render_queue WHERE job_id = %s", [job_id])
            if video > 0 and took > 0:
                await conn.execute(
                    "INSERT INTO render_speed (id, seconds_per_video_second) VALUES (1, %s)"
                    " ON CONFLICT (id) DO UPDATE SET seconds_per_video_second ="
                    " (1 - %s) * render_speed.seconds_per_video_second"
                    " + %s * excluded.seconds_per_video_second",
                    [took / video, SPEED_WEIGHT, SPEED_WEIGHT],
                )
        case JobFailed() | JobCancelled():
            await conn.execute("DELETE FROM render_queue WHERE job_id = %s", [job_id])
