"""Where a job stands in the render queue, and when its video should be ready.

Read from the `render_queue` read model (adpipe.projections.render_queue), never from a renderer:
several renderer processes share one JetStream consumer and take jobs in the log's order, so the
log alone knows the queue. A job's `position` is 1 for the next to start, null once it renders.

The estimate is the work ahead divided among the renders running now (every slot is busy while
jobs wait), at the measured seconds of rendering per second of video, plus the job's own render:

    wait = (remaining video of running renders + video of waiting jobs ahead) / slots * speed
    eta  = wait + own video * speed
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool


class Queued(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the read model."""

    job_id: str
    queued_at: int
    video_seconds: float
    started: bool
    percent: int

    @property
    def remaining(self) -> float:
        return self.video_seconds * (1 - self.percent / 100) if self.started else self.video_seconds


class Spot(msgspec.Struct, frozen=True, kw_only=True):
    # 1 for the next render to start; None while rendering.
    position: int | None
    eta_seconds: float


class RenderEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """For a job about to join the queue: the wait behind it, and the speed for its own part."""

    wait_seconds: float
    seconds_per_video_second: float

    def eta(self, video_seconds: float) -> float:
        return round(self.wait_seconds + video_seconds * self.seconds_per_video_second, 1)


def _slots(queue: Sequence[Queued]) -> int:
    return max(1, sum(1 for q in queue if q.started))


def spots(queue: Sequence[Queued], speed: float, job_ids: Iterable[str]) -> dict[str, Spot]:
    """Position and estimate of each of `job_ids` that is in `queue` (ordered by queued_at)."""
    wanted = set(job_ids)
    slots = _slots(queue)
    running = sum(q.remaining for q in queue if q.started)
    found: dict[str, Spot] = {}
    ahead, position = 0.0, 0
    for q in queue:
        if q.started:
            if q.job_id in wanted:
                found[q.job_id] = Spot(position=None, eta_seconds=round(q.remaining * speed, 1))
            continue
        position += 1
        if q.job_id in wanted:
            wait = (running + ahead) / slots * speed
            found[q.job_id] = Spot(
                position=position, eta_seconds=round(wait + q.video_seconds * speed, 1)
            )
        ahead += q.video_seconds
    return found


def estimate_for_newcomer(queue: Sequence[Queued], speed: float) -> RenderEstimate:
    """The estimate for a job that joins the queue behind everything in it now."""
    work = sum(q.remaining for q in queue)
    return RenderEstimate(
        wait_seconds=round(work / _slots(queue) * speed, 1), seconds_per_video_second=speed
    )


async def read_queue(
    conn: AsyncConnection[Any], default_speed: float
) -> tuple[list[Queued], float]:
    """The queue in render order, and the measured speed (`default_speed` before any render)."""
    cur = await conn.execute(
        "SELECT job_id, queued_at, video_seconds, started, percent FROM render_queue"
        " ORDER BY queued_at"
    )
    queue = [
        Queued(job_id=r[0], queued_at=r[1], video_seconds=r[2], started=r[3], percent=r[4])
        for r in await cur.fetchall()
    ]
    cur = await conn.execute("SELECT seconds_per_video_second FROM render_speed WHERE id = 1")
    row = await cur.fetchone()
    return queue, float(row[0]) if row else default_speed


async def estimate_now(pool: AsyncConnectionPool[Any], default_speed: float) -> RenderEstimate:
    """`estimate_for_newcomer` on the queue as it stands (for commands that may queue a job)."""
    async with pool.connection() as conn:
        queue, speed = await read_queue(conn, default_speed)
    return estimate_for_newcomer(queue, speed)
