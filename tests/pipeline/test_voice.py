"""The voice service with the real offline engine, the real planner and the real renderer, over
Postgres and NATS: every script spoken inside its scene, silence elsewhere, a regenerated or edited
scene narrated again (and only it), approval queued until the last narration lands, and an engine
crash failing the narration with a reason the job shows."""

from __future__ import annotations

import asyncio
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import av
import numpy as np
import pytest

from adpipe.api.narration_views import caption_cues
from adpipe.domain.job import Approve, JobState, RequestSceneRegeneration, UpdateScene
from adpipe.domain.narration import current_narration, scenes_to_narrate
from adpipe.events.job import RenderStarted, Voiceover
from adpipe.events.narration import NarrationFailed, NarrationSynthesized
from adpipe.jobs import execute, job_stream, load_job
from adpipe.runtime.roles import run_service
from adpipe.services.voice.engine import EspeakSynthesizer, close
from adpipe.services.voice.engine.espeak import worker
from adpipe.settings import Settings
from testkit.core import eventually
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.stack import RunningStack, running_stack

RATE = 48_000
ALL = ["downloader", "planner", "voice", "renderer"]


@pytest.fixture(scope="module", autouse=True)
def stop_the_espeak_worker() -> Iterator[None]:
    yield
    close()


async def narrated_job(
    stack: RunningStack,
    media: object,
    *,
    duration: float = 12.0,
    voiceover: Voiceover | None = None,
    resolution: Literal["720p", "1080p"] = "720p",
) -> str:
    refs = [url_asset(f"{media.base}/product.jpg")]  # type: ignore[attr-defined]
    job_id = await create_job(
        stack,
        refs,
        duration=duration,
        resolution=resolution,
        voiceover=voiceover or Voiceover(voice="en-us"),
    )
    await wait_for_status(stack, job_id, "storyboard_review", "failed", within=60)
    return job_id


async def until_narrated(stack: RunningStack, job_id: str, within: float = 60) -> JobState:
    """Waits until no scene's narration is still being made (or the job ended)."""

    async def settled() -> bool:
        state = await load_job(stack.core.store, job_id)
        return state.status not in ("storyboard_review", "in_progress") or (
            state.storyboards > 0 and not scenes_to_narrate(state)
        )

    await eventually(settled, within=within)
    return await load_job(stack.core.store, job_id)


async def events_of(stack: RunningStack, job_id: str) -> list[object]:
    return [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]


def decoded_audio(path: Path) -> np.ndarray:
    """The MP4's audio as one channel of floats at 48 kHz, aligned to the video's start."""
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).astype(np.float32).mean(axis=0)


def rms_db(audio: np.ndarray, start: float, end: float) -> float:
    samples = audio[round(start * RATE) : round(end * RATE)]
    value = float(np.sqrt(np.mean(np.square(samples), dtype=np.float64))) if samples.size else 0
    return 20 * math.log10(max(value, 1e-9))


async def test_each_script_is_spoken_inside_its_scene_and_silence_fills_the_rest(
    settings: Settings, media: object, tmp_path: Path
) -> None:
    async with running_stack(settings, ALL) as stack:
        job_id = await narrated_job(stack, media)
        state = await until_narrated(stack, job_id)
        assert state.status == "storyboard_review", state.error
        assert len(state.scenes) >= 3
        # A scene spoken briefly (silence after its word) and one whose script says nothing.
        await execute(stack.core.store, job_id, UpdateScene(scene_number=1, script="Hi."))
        await execute(stack.core.store, job_id, UpdateScene(scene_number=2, script="…"))
        state = await until_narrated(stack, job_id)
        assert 2 not in state.narrations and current_narration(state, state.scenes[0])
        await execute(stack.core.store, job_id, Approve())
        state = await wait_for_status(stack, job_id, "completed", "failed")
        assert state.status == "completed", state.error
        assert state.video is not None
        out = tmp_path / "ad.mp4"
        await stack.core.blobs.to_file(state.video.blob_id, out)
    audio = decoded_audio(out)
    starts = np.cumsum([0.0] + [s.duration for s in state.scenes])
    assert abs(len(audio) / RATE - starts[-1]) < 0.1
    for scene, start in zip(state.scenes, starts, strict=False):
        end = start + scene.duration
        narration = current_narration(state, scene)
        if narration is None:
            assert scene.scene_number == 2
            assert rms_db(audio, start + 0.1, end - 0.1) < -55, "silence where nothing is said"
            continue
        first, last = narration.words[0], narration.words[-1]
        spoken_from = start + narration.lead_seconds + first.start
        spoken_to = start + narration.lead_seconds + last.end
        assert start < spoken_from and spoken_to < end, "speech stays inside its scene"
        assert rms_db(audio, spoken_from, spoken_to) > -30, f"speech in scene {scene.scene_number}"
        assert rms_db(audio, start + 0.02, start + narration.lead_seconds - 0.05) < -50
        if scene.scene_number == 1:
            assert rms_db(audio, spoken_to + 0.15, end - 0.05) < -50, "silence after 'Hi.'"
    # The subtitles follow the real word timings: a phrase starts when its first word does.
    cues = caption_cues(state)
    assert cues[0].text == "Hi."
    assert cues[0].start == pytest.approx(
        state.narrations[1].lead_seconds + state.narrations[1].words[0].start, abs=2e-3
    )


async def test_regenerating_a_scene_narrates_it_again_and_no_other(
    settings: Settings, media: object
) -> None:
    async with running_stack(settings, ALL[:3]) as stack:
        job_id = await narrated_job(stack, media)
        before = await until_narrated(stack, job_id)
        count = len(await events_of(stack, job_id))
        old = before.narrations[2]
        # The built-in planner writes longer lines when asked for more text.
        await execute(
            stack.core.store,
            job_id,
            RequestSceneRegeneration(scene_number=2, feedback="more text"),
        )

        async def regenerated() -> bool:
            state = await load_job(stack.core.store, job_id)
            return state.regenerating is None and state.regenerations == 1

        await eventually(regenerated, within=30)
        after = await until_narrated(stack, job_id)
        new_events = (await events_of(stack, job_id))[count:]
        old_audio = await stack.core.blobs.read_bytes(old.blob_id)
        new_audio = await stack.core.blobs.read_bytes(after.narrations[2].blob_id)
    assert after.scenes[1].script != before.scenes[1].script
    narrated = [e for e in new_events if isinstance(e, NarrationSynthesized)]
    assert [e.scene_number for e in narrated] == [2]
    assert narrated[0].script == after.scenes[1].script
    assert after.narrations[2].blob_id != old.blob_id
    assert new_audio != old_audio and new_audio[:4] == b"RIFF"
    assert {n: after.narrations[n] for n in (1, 3)} == {n: before.narrations[n] for n in (1, 3)}


async def test_an_approval_made_while_narration_is_pending_renders_once_it_lands(
    settings: Settings, media: object
) -> None:
    # No voice service at first: the storyboard is approved while nothing is narrated yet.
    async with running_stack(settings, ["downloader", "planner", "renderer"]) as stack:
        job_id = await narrated_job(stack, media, duration=6.0)
        state = await load_job(stack.core.store, job_id)
        assert scenes_to_narrate(state) == [s.scene_number for s in state.scenes]
        await execute(stack.core.store, job_id, Approve())
        await asyncio.sleep(2.0)  # the renderer has had the approval and waits
        assert (await load_job(stack.core.store, job_id)).status == "in_progress"
        stack.tasks.append(
            asyncio.create_task(run_service("voice", stack.core, stack.nc, stack.stop))
        )
        state = await wait_for_status(stack, job_id, "completed", "failed")
        events = await events_of(stack, job_id)
    assert state.status == "completed", state.error
    assert sum(isinstance(e, RenderStarted) for e in events) == 1
    assert sum(isinstance(e, NarrationSynthesized) for e in events) == len(state.scenes)
    first_render = next(i for i, e in enumerate(events) if isinstance(e, RenderStarted))
    last_narration = max(i for i, e in enumerate(events) if isinstance(e, NarrationSynthesized))
    assert last_narration < first_render


async def crash_the_next_synthesis() -> int:
    """Stops espeak-ng's worker so the next request waits in it, and answers its pid."""
    await EspeakSynthesizer().synthesize("Warm up.", voice="en-us", speed=1.0)
    pid = worker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    return pid


async def kill_when_busy(pid: int) -> None:
    async with asyncio.timeout(30):
        while not worker.in_flight:  # noqa: ASYNC110 (a flag set by the calling thread)
            await asyncio.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


async def test_an_engine_crash_on_the_first_storyboard_fails_the_job_with_the_reason(
    settings: Settings, media: object
) -> None:
    async with running_stack(settings, ALL[:3]) as stack:
        pid = await crash_the_next_synthesis()
        job_id = await create_job(
            stack,
            [url_asset(f"{media.base}/product.jpg")],  # type: ignore[attr-defined]
            duration=6.0,
            voiceover=Voiceover(voice="en-us"),
        )
        await kill_when_busy(pid)
        state = await wait_for_status(stack, job_id, "failed", "completed", within=60)
        events = await events_of(stack, job_id)
    assert state.status == "failed" and state.error is not None
    assert state.error.stage == "voiceover" and state.error.code == "voiceover_failed"
    assert "died while speaking" in state.error.message
    [failed] = [e for e in events if isinstance(e, NarrationFailed)]
    assert failed.code == "engine_crashed"


async def test_an_engine_crash_after_an_edit_keeps_the_review_until_the_scene_is_fixed(
    settings: Settings, media: object
) -> None:
    async with running_stack(settings, ALL[:3]) as stack:
        job_id = await narrated_job(stack, media, duration=6.0)
        await until_narrated(stack, job_id)
        pid = await crash_the_next_synthesis()
        await execute(stack.core.store, job_id, UpdateScene(scene_number=2, script="Look closer."))
        await kill_when_busy(pid)

        async def failed() -> bool:
            state = await load_job(stack.core.store, job_id)
            return 2 in state.narration_failures

        await eventually(failed, within=30)
        state = await load_job(stack.core.store, job_id)
        assert state.status == "storyboard_review"
        assert state.narration_failures[2].code == "engine_crashed"
        # The next edit of the scene is narrated by a fresh worker, and approval goes through.
        await execute(stack.core.store, job_id, UpdateScene(scene_number=2, script="Look again."))
        state = await until_narrated(stack, job_id)
        assert not state.narration_failures and current_narration(state, state.scenes[1])
        approved, _ = await execute(stack.core.store, job_id, Approve())
    assert approved.status == "in_progress"
