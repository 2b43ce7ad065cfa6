"""Job histories for tests of webhooks, live events and the replay tool (`from webhooks.jobkit`)."""

from __future__ import annotations

import uuid

from adpipe.events.base import Event
from adpipe.events.catalogue import Envelope, Metadata, stream_id
from adpipe.events.job import (
    AdBasics,
    Creative,
    Direction,
    JobApproved,
    JobContext,
    JobCreated,
    RenderCompleted,
    RenderProgress,
    RenderStarted,
    SceneRegenerated,
    SceneRegenerationRequested,
    ScenesGenerated,
)
from adpipe.events.scene import Scene
from adpipe.storage.eventstore import EventStore


def scene(number: int, duration: float = 10.0, description: str = "") -> Scene:
    return Scene(
        scene_number=number,
        duration=duration,
        description=description or f"Scene {number}: the product in use",
        script=f"Line {number}",
        shot_type="close-up",
        transition="cut",
    )


def job_created(job_id: str, user_id: str) -> JobCreated:
    return JobCreated(
        job_id=job_id,
        user_id=user_id,
        context=JobContext(client_id=str(uuid.uuid4())),
        ad_basics=AdBasics(
            product="Trail shoes",
            target_audience="runners",
            key_message="Grip on any ground",
            call_to_action="Shop now",
        ),
        creative=Creative(direction=Direction(style="energetic"), duration_seconds=30.0),
    )


def lifecycle(job_id: str, user_id: str, progress: tuple[int, ...] = (25, 50, 75)) -> list[Event]:
    """A whole job: created, storyboard, one scene regenerated with feedback, approved, rendered."""
    return [
        job_created(job_id, user_id),
        ScenesGenerated(
            scenes=[scene(1), scene(2), scene(3)], duration_seconds=30.0, planner="builtin"
        ),
        SceneRegenerationRequested(scene_number=2, feedback="More energetic"),
        SceneRegenerated(
            scene_number=2,
            scene=scene(2, description="Scene 2, faster"),
            duration_seconds=30.0,
            planner="builtin",
            feedback="More energetic",
        ),
        JobApproved(),
        RenderStarted(worker="test"),
        *(RenderProgress(percent=p) for p in progress),
        RenderCompleted(
            blob_id="b" * 64,
            duration_seconds=30.0,
            size_bytes=1234,
            width=1920,
            height=1080,
            render_seconds=2.5,
            cost=0.6,
        ),
    ]


async def append_each(
    store: EventStore,
    job_id: str,
    events: list[Event],
    actor: str = "system",
    *,
    after_version: int = 0,
) -> list[Envelope]:
    """Appends one event at a time, as the services would, so other streams can interleave."""
    stream = stream_id("job", job_id)
    recorded: list[Envelope] = []
    for event in events:
        version = after_version + len(recorded)
        recorded += await store.append(stream, [event], version, Metadata(actor=actor))
    return recorded
