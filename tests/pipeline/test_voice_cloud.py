"""Cloud voices end to end: the voice service speaks through litellm to a local fake of OpenAI's
`/v1/audio/speech` over real HTTP (ADPIPE_TTS_MODEL=openai/tts-1, OPENAI_API_BASE pointing at it).
Each script is requested, the per-character cost lands in the job, the MP3 narration is mixed
into the MP4, and a provider that keeps failing or never answers fails the job after bounded
retries with a reason — never a hang."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import av
import msgspec
import numpy as np
import pytest

from adpipe.domain.job import Approve
from adpipe.domain.narration import narrations_in_order, scenes_to_narrate
from adpipe.events.job import Voiceover
from adpipe.events.narration import NarrationFailed
from adpipe.jobs import execute, job_stream, load_job
from adpipe.settings import Prices, Settings
from testkit.core import eventually
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.speech_provider import Answer, FakeSpeechProvider, error, serve
from testkit.stack import running_stack

PRICE = Prices().tts_per_character
RETRIES = 2  # three attempts in all


@pytest.fixture
async def provider(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSpeechProvider]:
    async with serve() as fake:
        monkeypatch.setenv("OPENAI_API_BASE", fake.url)  # as the README tells an operator
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield fake


@pytest.fixture
def cloud(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, tts_model="openai/tts-1", tts_retries=RETRIES, tts_timeout_seconds=2.0
    )


async def job_with_cloud_voice(stack: object, media: object, duration: float = 6.0) -> str:
    return await create_job(
        stack,  # type: ignore[arg-type]
        [url_asset(f"{media.base}/product.jpg")],  # type: ignore[attr-defined]
        duration=duration,
        resolution="720p",
        voiceover=Voiceover(voice="nova", speed=1.0),
    )


async def test_each_script_is_requested_priced_per_character_and_mixed_into_the_video(
    cloud: Settings, media: object, provider: FakeSpeechProvider, tmp_path: Path
) -> None:
    async with running_stack(cloud, ["downloader", "planner", "voice", "renderer"]) as stack:
        job_id = await job_with_cloud_voice(stack, media)

        async def narrated() -> bool:
            state = await load_job(stack.core.store, job_id)
            return state.status != "pending" and not scenes_to_narrate(state)

        await eventually(narrated, within=60)
        state = await load_job(stack.core.store, job_id)
        assert state.status == "storyboard_review", state.error
        await execute(stack.core.store, job_id, Approve())
        done = await wait_for_status(stack, job_id, "completed", "failed")
        assert done.status == "completed", done.error
        assert done.video is not None
        out = tmp_path / "ad.mp4"
        await stack.core.blobs.to_file(done.video.blob_id, out)
        async with stack.core.pool.connection() as conn:
            cur = await conn.execute("SELECT state->'cost' FROM jobs WHERE id = %s", [job_id])
            row = await cur.fetchone()
    scripts = [s.script for s in state.scenes]
    # Each script asked for at the job's speed; a faster take only where it did not fit.
    assert sorted(r["input"] for r in provider.requests if r["speed"] == 1.0) == sorted(scripts)
    assert {r["input"] for r in provider.requests} == set(scripts)
    assert {(r["model"], r["voice"]) for r in provider.requests} == {("tts-1", "nova")}
    narrations = narrations_in_order(state)
    assert {n.engine for n in narrations} == {"litellm"}
    assert {n.content_type for n in narrations} == {"audio/mpeg"}
    # Every take is paid for, the faster re-takes of a script that did not fit included.
    expected = sum(len(r["input"]) for r in provider.requests) * PRICE
    assert state.cost.voiceover == pytest.approx(expected) and expected > 0
    assert done.cost.voiceover == pytest.approx(expected)
    assert row is not None and row[0]["voiceover"] == pytest.approx(expected)  # the read model
    with av.open(str(out)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    audio = np.concatenate(chunks, axis=1).mean(axis=0)
    first = narrations[0]
    start = first.lead_seconds + first.words[0].start
    end = first.lead_seconds + first.words[-1].end
    samples = audio[round(start * 48_000) : round(end * 48_000)]
    level = 20 * math.log10(max(float(np.sqrt(np.mean(np.square(samples)))), 1e-9))
    assert level > -30, "the cloud narration is heard in the first scene"


async def test_a_provider_failing_for_good_fails_the_job_after_bounded_retries(
    cloud: Settings, media: object, provider: FakeSpeechProvider
) -> None:
    provider.play(error(500), repeat_last=True)
    async with running_stack(cloud, ["downloader", "planner", "voice"]) as stack:
        job_id = await job_with_cloud_voice(stack, media)
        state = await wait_for_status(stack, job_id, "failed", within=60)
        events = [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]
    assert state.error is not None and state.error.stage == "voiceover"
    assert f"gave up after {RETRIES + 1} attempts" in state.error.message
    assert "500" in state.error.message
    scenes = len(state.scenes)
    # Every attempt asked once per scene still to narrate; nothing more.
    assert len(provider.requests) == (RETRIES + 1) * scenes
    assert sum(isinstance(e, NarrationFailed) for e in events) == 1


@pytest.mark.slow
async def test_a_provider_that_never_answers_is_cut_off_and_the_job_fails(
    cloud: Settings, media: object, provider: FakeSpeechProvider
) -> None:
    provider.play(Answer(delay=30.0), repeat_last=True)
    async with running_stack(cloud, ["downloader", "planner", "voice"]) as stack:
        job_id = await job_with_cloud_voice(stack, media)
        state = await wait_for_status(stack, job_id, "failed", within=90)
    assert state.error is not None and state.error.stage == "voiceover"
    # Each attempt waited at most the timeout per scene: 3 attempts, one request per scene each.
    assert len(provider.requests) == (RETRIES + 1) * len(state.scenes)
    assert "timed out" in state.error.message.lower()
