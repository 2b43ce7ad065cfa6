"""Running the service runtime in a test: a job to work on, and a runner until an event is set."""

from __future__ import annotations

import asyncio

from adpipe.bus import connect
from adpipe.domain.job import CreateJob
from adpipe.events.job import AdBasics, Creative, Direction, JobContext
from adpipe.worker import ServiceRunner, ServiceSpec


def new_job(job_id: str = "j1") -> CreateJob:
    return CreateJob(
        job_id=job_id,
        user_id="u1",
        context=JobContext(client_id="c1"),
        ad_basics=AdBasics(product="P", target_audience="A", key_message="K", call_to_action="C"),
        creative=Creative(direction=Direction(style="Modern")),
    )


async def run_service(spec: ServiceSpec, nats_url: str, until: asyncio.Event) -> None:
    nc = await connect(nats_url)
    try:
        await ServiceRunner(spec, nc.jetstream()).run(until)
    finally:
        await nc.close()
