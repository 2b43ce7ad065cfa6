"""Reading jobs for the API: a job document from the read models, ownership, bounded waits.

A job document is served as the jobs projection stored it (`reads.job_document`): one query,
and the bytes go out as they came, never decoded and encoded again. The folded state
(`job_state`) is read only where a decision needs it: the waits and the blob routes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response
from litestar.enums import MediaType

from adpipe.domain.narration import scenes_to_narrate
from adpipe.errors import DependencyUnavailable, JobStateConflict, NotFound, ValidationFailed
from adpipe.jobs import load_job
from adpipe.projections.jobs import decode_state
from adpipe.render_queue import Spot, read_queue, spots

from . import reads

if TYPE_CHECKING:
    from adpipe.domain.job import JobState

    from .state import ApiState

Row = dict[str, Any]


@contextlib.contextmanager
def judged_by_the_job() -> Iterator[None]:
    """Around a job command built from a body the schema already checked: what the domain still
    refuses (a scene the storyboard lacks, a total past 120 s) is the job's state, so 409."""
    try:
        yield
    except ValidationFailed as exc:
        raise JobStateConflict(exc.detail, exc.errors) from None


async def job_row(api: ApiState, user: str, job_id: str) -> Row:
    row = await reads.job(api.core.pool, user, job_id)
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    return row


def job_state(row: Row) -> JobState:
    """The folded state of a row of the jobs read model."""
    state: JobState = decode_state(row["state"])
    return state


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


async def placed(api: ApiState, rows: list[Row]) -> list[str]:
    """The rows' stored documents (`id`, `status`, `document`), each job in the render queue
    with its place and estimate. A place moves whenever another render starts or ends, so it is
    added as the document is read, never stored in it; only queued jobs pay for the decoding."""
    queued = await queue_spots(api, [r["id"] for r in rows if r["status"] in _IN_QUEUE])
    documents = []
    for row in rows:
        document: str = row["document"]
        spot = queued.get(row["id"])
        if spot is not None:
            fields = msgspec.json.decode(document)
            fields["queuePosition"] = spot.position
            fields["etaSeconds"] = spot.eta_seconds
            document = msgspec.json.encode(fields).decode()
        documents.append(document)
    return documents


def json_response(body: bytes) -> Response[Any]:
    """An answer of JSON already encoded (a stored view): litestar sends the bytes as they are."""
    return Response(content=body, media_type=MediaType.JSON)


@dataclass(frozen=True)
class JobDocument:
    """A job as served (`body`: JSON bytes of a JobView), with what handlers decide on."""

    body: bytes
    status: str
    # The planner is regenerating something for the user (the view's `pendingAction`).
    regenerating: bool


async def job_document(api: ApiState, user: str, job_id: str) -> JobDocument:
    row = await api.lookups.jobs.get(user, job_id)
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    if row["document"] is None:  # a row from before stored views, until the rebuild swaps in
        raise DependencyUnavailable("the jobs read model is being rebuilt; try again shortly")
    [document] = await placed(api, [{**row, "id": job_id}])
    return JobDocument(
        body=document.encode(), status=row["status"], regenerating=bool(row["pending"])
    )


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
            # What it read may be newer than what this process has heard of: a document kept
            # from before must not answer next.
            api.read_cache.forget()
            return row
        await waker.wait(seen, min(left, 1.0))
