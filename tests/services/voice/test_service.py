"""The voice service's handler against a real Postgres and the real offline engine: it narrates
the scenes an event touched, records each narration once however often (or however concurrently)
the event is delivered, and turns spent retries into the job's failure policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from adpipe.context import Core, open_core
from adpipe.domain.job import CreateJob, RecordStoryboard, UpdateScene
from adpipe.events.catalogue import Envelope
from adpipe.events.job import (
    AdBasics,
    Creative,
    Direction,
    JobContext,
    Voiceover,
)
from adpipe.events.narration import NarrationFailed, NarrationSynthesized
from adpipe.events.scene import Scene
from adpipe.jobs import execute, job_stream, load_job
from adpipe.services.voice.engine import close
from adpipe.services.voice.service import Narrator, voice_spec
from adpipe.settings import load_settings
from adpipe.worker import Delivery

SCRIPTS = ["Life moves fast.", "Stay connected.", "Buy now."]


@pytest.fixture(scope="module", autouse=True)
def stop_the_espeak_worker() -> Iterator[None]:
    yield
    close()


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    async with open_core(load_settings({}, database_url=database_url, tts_retries=2)) as opened:
        yield opened


async def job_in_review(core: Core, job_id: str = "j1", voice: str = "en-us") -> list[Envelope]:
    creative = Creative(
        direction=Direction(style="Modern"),
        duration_seconds=12,
        voiceover=Voiceover(voice=voice),
    )
    create = CreateJob(
        job_id=job_id,
        user_id="u1",
        context=JobContext(client_id="c1"),
        ad_basics=AdBasics(
            product="Watch", target_audience="All", key_message="Time", call_to_action="Buy"
        ),
        creative=creative,
    )
    await execute(core.store, job_id, create)
    scenes = [
        Scene(
            scene_number=n,
            duration=4.0,
            description=f"Scene {n}",
            script=script,
            shot_type="Wide",
            transition="Cut",
        )
        for n, script in enumerate(SCRIPTS, start=1)
    ]
    _, recorded = await execute(core.store, job_id, RecordStoryboard(scenes=scenes, planner="llm"))
    return recorded


def delivery(envelope: Envelope, attempt: int = 1) -> Delivery:
    # The handler never touches the NATS message: the runner acks, naks and heartbeats it.
    msg: Any = None
    return Delivery(envelope=envelope, attempt=attempt, msg=msg, ack_wait=30.0)


async def narrations(core: Core, job_id: str = "j1") -> list[NarrationSynthesized]:
    events = [e.data for e in await core.store.read_stream(job_stream(job_id))]
    return [e for e in events if isinstance(e, NarrationSynthesized)]


async def test_a_storyboard_is_narrated_once_however_often_it_is_delivered(core: Core) -> None:
    [generated] = await job_in_review(core)
    narrator = Narrator(core)
    await narrator.handle(delivery(generated))
    await narrator.handle(delivery(generated, attempt=2))  # a redelivery finds nothing to do
    await asyncio.gather(*(narrator.handle(delivery(generated)) for _ in range(3)))
    recorded = await narrations(core)
    assert sorted(e.scene_number for e in recorded) == [1, 2, 3]
    for event, script in zip(sorted(recorded, key=lambda e: e.scene_number), SCRIPTS, strict=True):
        assert event.script == script and event.engine == "espeak-ng"
        assert [w.word for w in event.words] == script.split()
        assert event.lead_seconds + event.duration_seconds < event.scene_duration
        audio = await core.blobs.read_bytes(event.blob_id)
        assert audio[:4] == b"RIFF" and event.content_type == "audio/wav"


async def test_an_edit_narrates_only_the_edited_scene(core: Core) -> None:
    [generated] = await job_in_review(core)
    narrator = Narrator(core)
    await narrator.handle(delivery(generated))
    _, [updated] = await execute(core.store, "j1", UpdateScene(scene_number=2, script="Tick."))
    await narrator.handle(delivery(updated))
    # The storyboard's event, delivered late, finds every scene narrated: nothing more.
    await narrator.handle(delivery(generated, attempt=3))
    recorded = await narrations(core)
    assert [e.scene_number for e in recorded[3:]] == [2]
    assert recorded[-1].script == "Tick."


async def test_spent_retries_fail_the_first_storyboard_with_the_reason(core: Core) -> None:
    [generated] = await job_in_review(core)
    narrator = Narrator(core)
    spec = voice_spec(narrator, core.settings)
    assert spec.max_deliver == core.settings.tts_retries + 1
    assert spec.on_exhausted is not None
    await spec.on_exhausted(generated, "retries_exhausted", "gave up after 3 attempts: 503")
    state = await load_job(core.store, "j1")
    assert state.status == "failed" and state.error is not None
    assert state.error.stage == "voiceover"
    assert state.error.message.endswith("gave up after 3 attempts: 503")


async def test_spent_retries_after_an_edit_mark_the_scene_and_keep_the_review(core: Core) -> None:
    [generated] = await job_in_review(core)
    narrator = Narrator(core)
    await narrator.handle(delivery(generated))
    _, [updated] = await execute(core.store, "j1", UpdateScene(scene_number=3, script="Go."))
    spec = voice_spec(narrator, core.settings)
    assert spec.on_exhausted is not None
    await spec.on_exhausted(updated, "retries_exhausted", "gave up after 3 attempts: 503")
    await spec.on_exhausted(updated, "retries_exhausted", "gave up after 3 attempts: 503")
    state = await load_job(core.store, "j1")
    assert state.status == "storyboard_review"
    events = [e.data for e in await core.store.read_stream(job_stream("j1"))]
    [failed] = [e for e in events if isinstance(e, NarrationFailed)]
    assert (failed.scene_number, failed.script) == (3, "Go.")


async def test_a_voice_no_engine_here_speaks_fails_the_narration_without_retrying(
    core: Core,
) -> None:
    # Created while a cloud model was configured, narrated by a deployment without one.
    [generated] = await job_in_review(core, voice="alloy")
    await Narrator(core).handle(delivery(generated))
    state = await load_job(core.store, "j1")
    assert state.status == "failed" and state.error is not None
    assert "ADPIPE_TTS_MODEL" in state.error.message
    assert state.narration_failures[1].code == "unknown_voice"
