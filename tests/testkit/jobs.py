"""Jobs made the way the API makes them (URL assets registered, then `job.created`), for tests."""

from __future__ import annotations

import uuid
from typing import Literal

from adpipe.domain.job import CreateJob, JobState
from adpipe.events.asset import AssetRegistered
from adpipe.events.catalogue import Metadata, stream_id
from adpipe.events.job import Creative, Direction, JobAssetRef, JobContext, Voiceover
from adpipe.jobs import execute, load_job
from testkit.core import eventually
from testkit.seed import SMART_WATCH
from testkit.stack import RunningStack

AssetKind = Literal["image", "video", "audio"]


def url_asset(url: str, kind: AssetKind = "image") -> JobAssetRef:
    return JobAssetRef(asset_id=str(uuid.uuid4()), type=kind, name=url.rsplit("/", 1)[-1], url=url)


async def create_job(
    stack: RunningStack,
    refs: list[JobAssetRef],
    *,
    duration: float = 30.0,
    resolution: Literal["720p", "1080p"] = "1080p",
    voiceover: Voiceover | None = None,
    user_id: str = "u1",
) -> str:
    job_id = str(uuid.uuid4())
    for ref in refs:
        registered = AssetRegistered(
            asset_id=ref.asset_id,
            user_id=user_id,
            name=ref.name,
            asset_type=ref.type,
            source_url=ref.url,
            job_id=job_id,
        )
        await stack.core.store.append(stream_id("asset", ref.asset_id), [registered], 0)
    command = CreateJob(
        job_id=job_id,
        user_id=user_id,
        context=JobContext(client_id="c1"),
        ad_basics=SMART_WATCH,
        creative=Creative(
            direction=Direction(style="Modern", tone="Energetic"),
            assets=refs,
            duration_seconds=duration,
            resolution=resolution,
            voiceover=voiceover,
        ),
    )
    await execute(stack.core.store, job_id, command, Metadata(actor=f"user:{user_id}"))
    return job_id


async def wait_for_status(
    stack: RunningStack, job_id: str, *statuses: str, within: float = 120
) -> JobState:
    async def reached() -> bool:
        return (await load_job(stack.core.store, job_id)).status in statuses

    await eventually(reached, within=within)
    return await load_job(stack.core.store, job_id)
