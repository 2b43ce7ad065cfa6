"""Approve → render → completed: a real MP4, progress only rising, cancels and crashes handled."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Literal

import av
import pytest

from adpipe.domain.job import Approve, Cancel
from adpipe.events.job import (
    JobCancelled,
    RenderCompleted,
    RenderProgress,
    RenderStarted,
)
from adpipe.jobs import execute, job_stream
from adpipe.settings import Settings
from testkit.core import eventually, spawn
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.stack import RunningStack, running_stack


async def job_in_review(
    stack: RunningStack, media, *, duration: float, resolution: Literal["720p", "1080p"] = "720p"
) -> str:
    refs = [url_asset(f"{media.base}/product.jpg"), url_asset(f"{media.base}/clip.mp4", "video")]
    job_id = await create_job(stack, refs, duration=duration, resolution=resolution)
    await wait_for_status(stack, job_id, "storyboard_review", within=60)
    return job_id


async def count_videos(stack: RunningStack) -> int:
    async with stack.core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM asset_blobs WHERE content_type = 'video/mp4'"
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def test_an_approved_job_renders_to_a_playable_mp4_with_rising_progress(
    settings: Settings, media, tmp_path: Path
) -> None:
    async with running_stack(settings, ["downloader", "planner", "renderer"]) as stack:
        job_id = await job_in_review(stack, media, duration=8)
        await execute(stack.core.store, job_id, Approve())
        state = await wait_for_status(stack, job_id, "completed", "failed")
        assert state.status == "completed", state.error
        assert state.video is not None
        out = tmp_path / "ad.mp4"
        await stack.core.blobs.to_file(state.video.blob_id, out)
        events = [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.width, video.height) == (1280, 720)
        assert container.streams.audio, "every ad has an audio track"
        assert abs(float(container.duration or 0) / 1e6 - 8) < 0.1
    percents = [e.percent for e in events if isinstance(e, RenderProgress)]
    assert percents == sorted(percents) and len(set(percents)) == len(percents)
    assert [type(e) for e in events].count(RenderCompleted) == 1
    assert state.progress == 100 and state.cost.rendering > 0


async def test_cancelling_during_a_render_stops_it_and_stores_no_video(
    settings: Settings, media
) -> None:
    async with running_stack(settings, ["downloader", "planner", "renderer"]) as stack:
        job_id = await job_in_review(stack, media, duration=60, resolution="1080p")
        await execute(stack.core.store, job_id, Approve())
        await wait_for_status(stack, job_id, "rendering")
        await asyncio.sleep(1.0)
        await execute(stack.core.store, job_id, Cancel(reason="changed my mind"))
        await asyncio.sleep(3.0)  # long past the renderer's cancel poll
        videos = await count_videos(stack)
        events = [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]
    assert not any(isinstance(e, RenderCompleted) for e in events)
    assert isinstance(events[-1], JobCancelled)
    assert videos == 1  # only the downloaded clip, no rendered video


@pytest.mark.slow
async def test_a_renderer_killed_mid_render_is_replaced_and_one_video_is_stored(
    settings: Settings, media, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": settings.database_url, "NATS_URL": settings.nats_url}
    async with running_stack(settings, ["downloader", "planner"]) as stack:
        job_id = await job_in_review(stack, media, duration=30)
        first = spawn(["-m", "adpipe.cli", "service", "renderer"], env, tmp_path / "r1.log")
        second = None
        try:
            await execute(stack.core.store, job_id, Approve())

            async def progressing() -> bool:
                events = await stack.core.store.read_stream(job_stream(job_id))
                return any(isinstance(e.data, RenderProgress) for e in events)

            await eventually(progressing, within=90)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = spawn(["-m", "adpipe.cli", "service", "renderer"], env, tmp_path / "r2.log")
            state = await wait_for_status(stack, job_id, "completed", "failed", within=180)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(20)
        events = [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]
        videos = await count_videos(stack)
    assert state.status == "completed", state.error
    assert sum(isinstance(e, RenderCompleted) for e in events) == 1
    assert [e.attempt for e in events if isinstance(e, RenderStarted)] == [1, 2]
    assert videos == 2  # the downloaded clip and exactly one rendered video
