"""The voice service: consume `job.scenes_generated`, `job.scene_regenerated` and
`job.scene_updated`, speak each affected scene's script with `fit_narration`, store the audio and
append `job.narration_synthesized` — or, when it cannot be made, the failure the job decides on.

Why a service of its own rather than a step of the planner: it scales on its own (narration is
per scene and CPU-bound offline, planning is one network call per storyboard), it fails in its own
ways (an engine crash, a TTS provider's outage) that must not hold up or fail a storyboard, and it
keeps the planner one idea — writing storyboards. Like the planner, it acts on the job's state,
not on the event that woke it: a redelivery finds the narration already recorded and does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from adpipe.domain.job import FailNarration, JobState, RecordNarration
from adpipe.domain.narration import Narration, scenes_to_narrate
from adpipe.errors import InvalidTransition, ValidationFailed
from adpipe.events.catalogue import Metadata
from adpipe.events.job import SceneRegenerated, ScenesGenerated, SceneUpdated
from adpipe.jobs import execute, load_job
from adpipe.observability.providers import record_tts_call
from adpipe.render_queue import estimate_now
from adpipe.worker import Delivery, Retry, ServiceRunner, ServiceSpec

from .engine import (
    FittedNarration,
    Speech,
    Synthesizer,
    TTSFailed,
    close,
    fit_narration,
    synthesizer_for,
)

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from adpipe.context import Core
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope
    from adpipe.events.scene import Scene
    from adpipe.settings import Settings

log = logging.getLogger(__name__)
NAME = "voice"
SUBJECTS = [
    "adpipe.job.scenes_generated",
    "adpipe.job.scene_regenerated",
    "adpipe.job.scene_updated",
]
# fit_narration speaks a script at most four times (once, then up to three speed-ups); each call
# is bounded by the engine's own timeout, and this bounds the whole fit even if one is not.
SYNTHESES_PER_FIT = 4

# voice name -> the engine that speaks it (a port: tests may hand in their own).
SynthesizerFactory = Callable[[str], Synthesizer]


class Metered:
    """A synthesizer that adds up what its calls cost: `fit_narration` may speak a script again,
    faster, and every take is paid for, not only the one kept."""

    def __init__(self, inner: Synthesizer) -> None:
        self.inner = inner
        self.spent = 0.0

    async def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        # Both engines name themselves (espeak-ng, or the cloud model's litellm path).
        model = str(getattr(self.inner, "model", None) or getattr(self.inner, "engine", "tts"))
        started = time.monotonic()
        try:
            speech = await self.inner.synthesize(text, voice=voice, speed=speed)
        except Exception:
            record_tts_call(model, "failed", time.monotonic() - started, characters=len(text))
            raise
        record_tts_call(
            model,
            "ok",
            time.monotonic() - started,
            characters=speech.characters,
            cost=speech.cost,
        )
        self.spent += speech.cost
        return speech


def affected_scenes(event: Event, state: JobState) -> set[int]:
    """The scenes whose script the event may have changed: a whole storyboard, or one scene."""
    match event:
        case ScenesGenerated():
            return {s.scene_number for s in state.scenes}
        case SceneRegenerated() | SceneUpdated():
            return {event.scene_number}
    return set()


class Narrator:
    def __init__(self, core: Core, synthesizers: SynthesizerFactory | None = None) -> None:
        self.core = core
        settings = core.settings
        self.synthesizers = synthesizers or (
            lambda voice: synthesizer_for(
                voice,
                tts_model=settings.tts_model,
                timeout_seconds=settings.tts_timeout_seconds,
                price_per_character=settings.prices.tts_per_character,
            )
        )
        self.deadline = settings.tts_timeout_seconds * SYNTHESES_PER_FIT + 5.0

    async def handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        meta = delivery.caused_metadata(NAME)
        state = await load_job(self.core.store, envelope.entity_id)
        wanted = affected_scenes(envelope.data, state)
        # Scenes that fail for a while are retried all together once the others are recorded.
        transient: list[tuple[int, TTSFailed]] = []
        for number in scenes_to_narrate(state):
            if number not in wanted:
                continue
            scene = state.scenes[number - 1]
            try:
                fitted, cost = await self.speak(state, scene)
            except TTSFailed as exc:
                if exc.transient:
                    transient.append((number, exc))
                    continue
                state = await self.fail(state, scene, exc.code, exc.detail, meta)
                if state.status == "failed":
                    return
                continue
            state = await self.record(state, scene, fitted, cost, meta)
            if state.status not in ("storyboard_review", "in_progress"):
                return
        if transient:
            asked = [e.retry_after for _, e in transient if e.retry_after is not None]
            raise Retry(
                "narration failed for now: "
                + "; ".join(f"scene {n}: {e.detail}" for n, e in transient),
                # The provider's Retry-After, within the longest backoff we would wait anyway.
                delay=min(max(asked), max(self.core.settings.retry_backoff_seconds))
                if asked
                else None,
            )

    async def speak(self, state: JobState, scene: Scene) -> tuple[FittedNarration, float]:
        """The narration fitted to the scene, and what all its takes cost."""
        assert state.creative is not None and state.creative.voiceover is not None
        voiceover = state.creative.voiceover
        try:
            synth = Metered(self.synthesizers(voiceover.voice))
            async with asyncio.timeout(self.deadline):
                fitted = await fit_narration(
                    synth,
                    scene.script,
                    voice=voiceover.voice,
                    speed=voiceover.speed,
                    scene_duration=scene.duration,
                )
            return fitted, round(synth.spent, 6)
        except TTSFailed:
            raise
        except TimeoutError:
            raise TTSFailed(
                f"speaking the script took longer than {self.deadline:g} s",
                code="timeout",
                transient=True,
            ) from None
        except Exception as exc:
            # Whatever else an engine raises is a bug or a crash inside it: retrying the same
            # script would meet it again, so the narration fails with what happened.
            log.exception(
                "voice engine crashed on job %s scene %d", state.job_id, scene.scene_number
            )
            raise TTSFailed(
                f"the voice engine crashed: {type(exc).__name__}: {exc}", code="engine_crashed"
            ) from exc

    async def record(
        self, state: JobState, scene: Scene, fitted: FittedNarration, cost: float, meta: Metadata
    ) -> JobState:
        speech = fitted.speech
        blob = await self.core.blobs.put_bytes(speech.audio, speech.content_type)
        narration = Narration(
            scene_number=scene.scene_number,
            script=scene.script,
            planned_duration=scene.duration,
            blob_id=blob.id,
            content_type=speech.content_type,
            duration_seconds=speech.duration_seconds,
            lead_seconds=fitted.lead_seconds,
            words=speech.words,
            voice=speech.voice,
            engine=speech.engine,
            speed=speech.speed,
            characters=speech.characters,
            cost=cost,
            scene_duration=fitted.scene_duration,
            lengthened=fitted.lengthened,
            note=fitted.note,
        )
        # Approved already: this narration may be the last one, which queues the render.
        estimate = (
            await estimate_now(self.core.pool, self.core.settings.render_seconds_per_video_second)
            if state.status == "in_progress"
            else None
        )
        command = RecordNarration(narration=narration, render_estimate=estimate)
        try:
            new, _ = await execute(self.core.store, state.job_id, command, meta)
        except ValidationFailed as exc:  # lengthening would break the longest ad allowed
            return await self.fail(state, scene, "script_too_long", exc.detail, meta)
        return new

    async def fail(
        self, state: JobState, scene: Scene, code: str, message: str, meta: Metadata
    ) -> JobState:
        log.warning(
            "narration of job %s scene %d failed (%s): %s",
            state.job_id,
            scene.scene_number,
            code,
            message,
        )
        command = FailNarration(
            scene_number=scene.scene_number,
            script=scene.script,
            planned_duration=scene.duration,
            code=code,
            message=message,
        )
        new, _ = await execute(self.core.store, state.job_id, command, meta)
        return new

    async def exhausted(self, envelope: Envelope, code: str, reason: str) -> None:
        """The retries are spent: the scenes this event left unnarrated fail with the reason
        (the job decides what that means: a failed job, or a scene to fix in review)."""
        meta = Metadata(
            actor=f"service:{NAME}",
            causation_id=envelope.id,
            correlation_id=envelope.metadata.correlation_id,
        )
        state = await load_job(self.core.store, envelope.entity_id)
        wanted = affected_scenes(envelope.data, state)
        for number in scenes_to_narrate(state):
            if number in wanted:
                try:
                    state = await self.fail(state, state.scenes[number - 1], code, reason, meta)
                except InvalidTransition:
                    return  # the job ended meanwhile
                if state.status == "failed":
                    return


def voice_spec(narrator: Narrator, settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        subjects=SUBJECTS,
        handle=narrator.handle,
        on_exhausted=narrator.exhausted,
        # The first delivery and `tts_retries` more, spaced by the services' backoff.
        max_deliver=settings.tts_retries + 1,
        backoff=settings.retry_backoff_seconds,
        ack_wait=settings.ack_wait_seconds,
        concurrency=settings.service_concurrency,
        stream=settings.stream_name,
    )


async def run(core: Core, nc: NATS, stop: asyncio.Event) -> None:
    narrator = Narrator(core)
    try:
        await ServiceRunner(voice_spec(narrator, core.settings), nc.jetstream()).run(stop)
    finally:
        await asyncio.to_thread(close)  # the offline engine's worker process goes with us
