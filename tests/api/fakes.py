"""Stand-ins for the planner, downloader, voice and renderer services, for API tests only.

They follow the log in-process and append what the real services would, instantly and
deterministically, so the API's waits (storyboard, regeneration, read-your-writes) are exercised
end to end without NATS or an LLM.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import math
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from adpipe.context import Core
from adpipe.domain.job import (
    CompleteRender,
    Fail,
    FailNarration,
    JobState,
    RecordAssetDownloaded,
    RecordNarration,
    RecordSceneRegenerated,
    RecordStoryboard,
    ReportProgress,
    StartRender,
    Video,
)
from adpipe.domain.narration import Narration, ready_to_render, scenes_to_narrate
from adpipe.domain.regeneration import SceneRegeneration, StoryboardRegeneration
from adpipe.errors import InvalidTransition, StreamVersionConflict
from adpipe.events.asset import AssetFailed, AssetMetadata, AssetRegistered, AssetStored
from adpipe.events.catalogue import Envelope, stream_id
from adpipe.events.job import AssetDownloaded
from adpipe.events.narration import WordTiming
from adpipe.events.scene import Scene
from adpipe.jobs import execute, load_job
from adpipe.storage.subscription import follow
from adpipe.tasks import cancel_and_wait

FAKE_MP4 = bytes(range(256)) * 40  # 10 240 bytes: enough for range requests
# The fake narrator "speaks" each word as a tone this long, after a lead, at 16 kHz.
WORD_SECONDS = 0.3
FAKE_LEAD = 0.15
FAKE_RATE = 16_000


@dataclass
class FakeServices:
    """FakePlanner + FakeDownloader + FakeRenderer in one follower of the log."""

    core: Core
    # URL -> (bytes, metadata) the fake downloader "fetches"; other URLs fail.
    remote: dict[str, tuple[bytes, AssetMetadata]] = field(default_factory=dict)
    plan: bool = True  # False: jobs stay pending (tests of the 202 path)
    render: bool = True
    narrate: bool = True  # False: narration stays pending until `narrate_now`
    unspeakable: set[str] = field(default_factory=set)  # scripts whose narration fails
    regenerations: int = 0
    narrated: list[tuple[str, int, str]] = field(default_factory=list)  # (job, scene, script)

    async def run(self) -> None:
        async for batch in follow(self.core.store, 0, self.core.waker, poll_seconds=0.2):
            for envelope in batch:
                try:
                    await self._handle(envelope)
                except (InvalidTransition, StreamVersionConflict):
                    pass  # another event got there first; the next one re-checks

    async def _handle(self, envelope: Envelope) -> None:
        event = envelope.data
        # Like the real downloader: a job's URL assets are fetched on its job.created, never on
        # their asset.registered, which the API appends before the job exists.
        if isinstance(event, AssetRegistered) and event.source_url and event.job_id is None:
            await self._download(event.asset_id, event.source_url, None)
        if envelope.kind != "job":
            return
        state = await load_job(self.core.store, envelope.entity_id)
        if state.status == "pending" and state.creative is not None:
            for ref in state.creative.assets:
                if ref.asset_id in state.awaiting_assets:
                    await self._download(ref.asset_id, ref.url or "", state.job_id)
            state = await load_job(self.core.store, envelope.entity_id)
        if self.narrate and state.status in ("storyboard_review", "in_progress"):
            state = await self.narrate_now(state.job_id)
        if not self.plan:
            return
        requested = state.regenerating if state.status == "storyboard_review" else None
        if state.ready_to_plan or isinstance(requested, StoryboardRegeneration):
            feedback = requested.feedback if requested else None
            scenes = storyboard(state.duration_seconds, sorted(state.asset_ids), feedback)
            command = RecordStoryboard(scenes=scenes, planner="builtin")
            await execute(self.core.store, state.job_id, command)
        elif isinstance(requested, SceneRegeneration):
            number = requested.scene_number
            old = state.scenes[number - 1]
            self.regenerations += 1
            new = Scene(
                scene_number=number,
                duration=old.duration,
                description=f"Regenerated ({requested.feedback or 'no feedback'})",
                script=old.script,
                shot_type="close-up",
                transition=old.transition,
                assets=old.assets,
            )
            await execute(
                self.core.store, state.job_id, RecordSceneRegenerated(scene=new, planner="builtin")
            )
        elif ready_to_render(state) and self.render:
            await execute(self.core.store, state.job_id, StartRender(worker="fake"))
        elif (
            state.status == "rendering"
            and state.progress == 0
            and envelope.type != "job.render_progress"
        ):
            await execute(self.core.store, state.job_id, ReportProgress(percent=50))
            blob = await self.core.blobs.put_bytes(FAKE_MP4, "video/mp4")
            video = Video(
                blob_id=blob.id,
                duration_seconds=state.duration_seconds,
                size_bytes=blob.size_bytes,
                width=1920,
                height=1080,
                render_seconds=0.1,
            )
            await execute(self.core.store, state.job_id, CompleteRender(video=video, cost=1.2))

    async def narrate_now(self, job_id: str) -> JobState:
        """Records a narration for every scene still waiting for one, as the voice service
        would: a tone per word of the script, timed word by word."""
        state = await load_job(self.core.store, job_id)
        for number in scenes_to_narrate(state):
            scene = state.scenes[number - 1]
            if scene.script in self.unspeakable:
                failure = FailNarration(
                    scene_number=number,
                    script=scene.script,
                    planned_duration=scene.duration,
                    code="engine_crashed",
                    message="the fake engine cannot say this",
                )
                state, _ = await execute(self.core.store, job_id, failure)
                continue
            audio, words = speech(scene.script)
            blob = await self.core.blobs.put_bytes(audio, "audio/wav")
            spoken_for = len(words) * WORD_SECONDS
            needed = math.ceil((spoken_for + 0.5) * 10) / 10
            lengthened = needed > scene.duration
            narration = Narration(
                scene_number=number,
                script=scene.script,
                planned_duration=scene.duration,
                blob_id=blob.id,
                content_type="audio/wav",
                duration_seconds=spoken_for,
                lead_seconds=FAKE_LEAD,
                words=words,
                voice=state.creative.voiceover.voice,  # type: ignore[union-attr]
                engine="fake",
                speed=1.0,
                characters=len(scene.script),
                cost=0.0,
                scene_duration=needed if lengthened else scene.duration,
                lengthened=lengthened,
                note=f"The scene was lengthened to {needed:g} s." if lengthened else "",
            )
            state, recorded = await execute(
                self.core.store, job_id, RecordNarration(narration=narration)
            )
            if recorded:
                self.narrated.append((job_id, number, scene.script))
        return state

    async def _download(self, asset_id: str, url: str, job_id: str | None) -> None:
        store = self.core.store
        stream = stream_id("asset", asset_id)
        if await store.stream_version(stream) != 1:
            return
        found = self.remote.get(url)
        if found is None:
            await store.append(stream, [AssetFailed(code="http_404", message="not found")], 1)
            if job_id:
                failed = Fail(
                    code="download_failed",
                    message=f"{url}: not found",
                    stage="download",
                )
                await execute(store, job_id, failed)
            return
        data, metadata = found
        blob = await self.core.blobs.put_bytes(data, metadata.content_type)
        await store.append(stream, [AssetStored(blob_id=blob.id, metadata=metadata, cost=0.001)], 1)
        if job_id:
            downloaded = AssetDownloaded(
                asset_id=asset_id,
                url=url,
                blob_id=blob.id,
                metadata=metadata,
                cost=0.001,
            )
            await execute(store, job_id, RecordAssetDownloaded(event=downloaded))


def speech(script: str) -> tuple[bytes, list[WordTiming]]:
    """A WAV of one tone per word (its pitch from the script, so each script sounds different)
    and the words' timings from the audio's start."""
    words = script.split()
    pitch = 200 + int(hashlib.sha256(script.encode()).hexdigest()[:4], 16) % 400
    per_word = round(WORD_SECONDS * FAKE_RATE)
    t = np.arange(per_word) / FAKE_RATE
    tone = (0.3 * 32767 * np.sin(2 * math.pi * pitch * t)).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(FAKE_RATE)
        wav.writeframes(np.tile(tone, len(words)).tobytes())
    timings = [
        WordTiming(word=w, start=i * WORD_SECONDS, end=round((i + 0.9) * WORD_SECONDS, 3))
        for i, w in enumerate(words)
    ]
    return out.getvalue(), timings


def storyboard(total: float, asset_ids: list[str], feedback: str | None = None) -> list[Scene]:
    count = 4
    each = round(total / count, 1)
    durations = [each] * (count - 1) + [round(total - each * (count - 1), 3)]
    note = f" ({feedback})" if feedback else ""
    return [
        Scene(
            scene_number=i + 1,
            duration=durations[i],
            description=f"Scene {i + 1}{note}",
            script=f"Line {i + 1}",
            shot_type="wide",
            transition="cut",
            assets=[asset_ids[i % len(asset_ids)]] if asset_ids else [],
        )
        for i in range(count)
    ]


@contextlib.asynccontextmanager
async def running(fakes: FakeServices) -> AsyncIterator[FakeServices]:
    task = asyncio.create_task(fakes.run(), name="fake-services")
    try:
        yield fakes
    finally:
        await cancel_and_wait(task)  # repeats the cancel: one can be swallowed (adpipe.tasks)
