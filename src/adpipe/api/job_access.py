"""Reading jobs for the API: a job document from the read models, ownership, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adpipe.domain.narration import scenes_to_narrate
from adpipe.errors import NotFound
from adpipe.jobs import load_job
from adpipe.render_queue import Spot, read_queue, spots

from . import reads
from .views import JobView, job_state, job_view

if TYPE_CHECKING:
    from adpipe.domain.job import JobState

    from .state import ApiState

Row = dict[str, Any]


async def job_row(api: ApiState, user: str, job_id: str) -> Row:
    row = await reads.job(api.core.pool, user, job_id)
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    return row


async def job_views(api: ApiState, user: str, rows: list[Row]) -> list[JobView]:
    """Job documents for rows of the jobs read model, with one query for all their assets."""
    states = [job_state(r) for r in rows]
    asset_ids = {a.asset_id for s in states if s.creative for a in s.creative.assets}
    assets = await reads.assets_by_id(api.core.pool, user, sorted(asset_ids))
    currency = api.settings.prices.currency
    spots = await queue_spots(api, [s.job_id for s in states if s.status in _IN_QUEUE])
    return [job_view(row, assets, currency, spots.get(row["id"])) for row in rows]


# Statuses of a job in the render queue: approved and waiting (in_progress), or rendering.
_IN_QUEUE = frozenset({"in_progress", "rendering"})


async def queue_spots(api: ApiState, job_ids: list[str]) -> dict[str, Spot]:
    """Queue positions and estimates from the render_queue read model; no query without jobs
    that can be in it (most reads)."""
    if not job_ids:
        return {}
    async with api.core.pool.connection() as conn:
        queue, speed = await read_queue(conn, api.settings.render_seconds_per_video_second)
    return spots(queue, speed, job_ids)


async def job_document(api: ApiState, user: str, job_id: str) -> JobView:
    return (await job_views(api, user, [await job_row(api, user, job_id)]))[0]


async def owned_job(api: ApiState, user: str, job_id: str) -> JobState:
    """The job's state from its events (the truth commands decide on); 404 unless the user's."""
    state = await load_job(api.core.store, job_id)
    if not state.exists or state.user_id != user:
        raise NotFound(f"job {job_id} does not exist")
    return state


def narrating(row: Row) -> bool:
    """The storyboard is in review and a scene's narration is still being made. Answers to the
    storyboard wait for it too (bounded), so a reviewer gets the scenes with their audio."""
    state = job_state(row)
    return state.status == "storyboard_review" and bool(scenes_to_narrate(state))


async def wait_for_job(
    api: ApiState, user: str, job_id: str, done: Callable[[Row], bool], within: float
) -> Row:
    """Re-reads the job each time a read model moves until `done(row)` or `within` seconds."""
    deadline = time.monotonic() + within
    waker = api.projections
    while True:
        seen = waker.generation
        row = await job_row(api, user, job_id)
        left = deadline - time.monotonic()
        if done(row) or left <= 0:
            return row
        await waker.wait(seen, min(left, 1.0))
