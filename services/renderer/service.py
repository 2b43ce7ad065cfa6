"""The renderer service: consume `job.approved` (and `job.narration_synthesized`), render the
storyboard to an MP4 with each scene's narration, store it, and append `job.render_completed` —
reporting `job.render_progress` on the way and stopping within a second or two when the job is
cancelled.

Approval does not wait for narration: it is queued, and the render starts on whichever event made
the job ready — the approval when every narration had landed, else the last narration. Only that
one event starts it, so two deliveries never render twice; its redelivery after a crash restarts.

The engine (`engine/`) knows nothing of NATS or Postgres; this module feeds it local copies of the
job's assets and narrations, runs it in a worker thread, and turns its progress callback into
throttled events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adpipe.domain.job import CompleteRender, JobState, ReportProgress, StartRender, Video, evolve
from adpipe.domain.narration import narrations_in_order, ready_to_render
from adpipe.errors import InvalidTransition
from adpipe.events.asset import AssetStored
from adpipe.events.catalogue import Metadata, stream_id
from adpipe.events.job import JobCancelled
from adpipe.jobs import execute, job_stream
from adpipe.observability.outcomes import record_render
from adpipe.pricing import render_cost
from adpipe.worker import Delivery, Permanent, ServiceRunner, service_spec

from .engine import (
    RenderAsset,
    RenderFailed,
    RenderNarration,
    RenderSpec,
)
from .sandboxed import render_in_child, render_limits, render_sandbox

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from adpipe.context import Core

log = logging.getLogger(__name__)
NAME = "renderer"
SUBJECTS = ["adpipe.job.approved", "adpipe.job.narration_synthesized"]
# File name endings of the narration formats, so the engine's demuxer need not guess.
_AUDIO_EXTENSIONS = {"audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg"}
# Progress events: one every PROGRESS_SECONDS, or sooner once it moved PROGRESS_STEP percent, but
# never more than one per PROGRESS_MIN_SECONDS: each event is an append, a relay, folds in every
# projection and live streams, all on the cores x264 is using (a 720p ad renders ~15% a second).
PROGRESS_SECONDS = 2.0
PROGRESS_STEP = 5
PROGRESS_MIN_SECONDS = 1.0
# How often the job's stream is checked for a cancellation while rendering.
CANCEL_POLL_SECONDS = 0.5


class Progress:
    """Frames done, written by the render thread and read by the event loop (ints are atomic)."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0
        self.cancelled = False
        # Set by each update, so the watcher reports a short render's first frames when they
        # are made, not at its next poll (which may come after the render has ended).
        self.moved = asyncio.Event()

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.moved.set()


class Renderer:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.worker = f"{socket.gethostname()}:{NAME}"
        self.sandbox = render_sandbox(core.settings)

    async def handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        job_id = envelope.entity_id
        meta = delivery.caused_metadata(NAME)
        state, starts = await self.load_and_check(job_id, envelope.version)
        if not starts:
            return  # another event starts (or started) this render, or none will
        if state.status not in ("in_progress", "rendering"):
            return  # rendered already, cancelled or failed: nothing to do
        # A redelivery after a crash starts again from the beginning (attempt + 1).
        state, _ = await execute(self.core.store, job_id, StartRender(worker=self.worker), meta)
        with tempfile.TemporaryDirectory(prefix="adpipe-render-") as folder:
            await self.render_job(state, Path(folder), meta)

    async def load_and_check(self, job_id: str, version: int) -> tuple[JobState, bool]:
        """The job's state, and whether the event at `version` is the one that made it ready to
        render (approved with every narration in; see the module's docstring)."""
        state, starts = JobState(), False
        for envelope in await self.core.store.read_stream(job_stream(job_id)):
            after = evolve(state, envelope.data)
            if envelope.version == version:
                starts = ready_to_render(after) and not ready_to_render(state)
            state = after
        return state, starts

    async def fetch_narrations(self, state: JobState, folder: Path) -> list[RenderNarration]:
        narrations = []
        copies = []
        for narration in narrations_in_order(state):
            extension = _AUDIO_EXTENSIONS.get(narration.content_type, "")
            path = folder / f"narration-{narration.scene_number}{extension}"
            copies.append(self.core.blobs.to_file(narration.blob_id, path))
            narrations.append(
                RenderNarration(
                    scene_number=narration.scene_number,
                    path=str(path),
                    lead_seconds=narration.lead_seconds,
                    words=list(narration.words),
                )
            )
        await asyncio.gather(*copies)  # each copy is round trips to Postgres: overlap them
        return narrations

    async def fetch_assets(self, state: JobState, folder: Path) -> dict[str, RenderAsset]:
        assert state.creative is not None
        assets: dict[str, RenderAsset] = {}
        copies = []
        for ref in state.creative.assets:
            blob_id = state.blobs.get(ref.asset_id)
            if blob_id is None:  # given by id at creation: its blob is on the asset's stream
                for env in await self.core.store.read_stream(stream_id("asset", ref.asset_id)):
                    if isinstance(env.data, AssetStored):
                        blob_id = env.data.blob_id
            if blob_id is None:
                raise Permanent(f"asset {ref.asset_id} has no stored content", code="asset_missing")
            path = folder / ref.asset_id
            copies.append(self.core.blobs.to_file(blob_id, path))
            assets[ref.asset_id] = RenderAsset(id=ref.asset_id, type=ref.type, path=str(path))
        await asyncio.gather(*copies)
        return assets

    async def render_job(self, state: JobState, folder: Path, meta: Metadata) -> None:
        assert state.creative is not None and state.ad_basics is not None
        creative = state.creative
        assets, narrations = await asyncio.gather(
            self.fetch_assets(state, folder), self.fetch_narrations(state, folder)
        )
        audio = next((a.asset_id for a in creative.assets if a.type == "audio"), None)
        spec = RenderSpec(
            scenes=list(state.scenes),
            aspect_ratio=creative.aspect_ratio,
            resolution=creative.resolution,
            fps=self.core.settings.render_fps,
            call_to_action=state.ad_basics.call_to_action,
            style=creative.direction.style,
            product=state.ad_basics.product,
            audio_asset_id=audio,
            narrations=narrations,
        )
        out = folder / "video.mp4"
        progress = Progress()
        started = time.monotonic()
        # In a child process, not a thread: a cancelled job or a handler past its deadline kills
        # the render at once, and a crash in FFmpeg or x264 is the child's alone (`Crashed`,
        # counted against max_crashes) instead of taking the service and its other work down.
        work = asyncio.create_task(
            render_in_child(
                spec,
                assets,
                out,
                limits=render_limits(self.core.settings),
                on_progress=progress.update,
                sandbox=self.sandbox,
            )
        )
        watcher = asyncio.create_task(self.watch(state, progress, work, started, meta))
        try:
            result = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if progress.cancelled and not (current is not None and current.cancelling()):
                log.info("render of job %s stopped: the job was cancelled", state.job_id)
                return
            work.cancel()  # the handler itself is stopped (deadline, shutdown): kill the child
            raise
        except RenderFailed as exc:
            raise Permanent(f"rendering failed: {exc.detail}", code="render_failed") from exc
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if await self.cancelled(state):
            return  # cancelled in the last instant: store nothing
        blob = await self.core.blobs.put_file(out, "video/mp4")
        video = Video(
            blob_id=blob.id,
            duration_seconds=result.duration_seconds,
            size_bytes=blob.size_bytes,
            width=result.width,
            height=result.height,
            render_seconds=round(time.monotonic() - started, 3),
        )
        record_render(
            frames=result.frames,
            video_seconds=result.duration_seconds,
            wall_seconds=video.render_seconds,
        )
        cost = render_cost(creative.resolution, result.duration_seconds, self.core.settings.prices)
        with contextlib.suppress(InvalidTransition):  # cancelled meanwhile: the job says so
            await execute(
                self.core.store, state.job_id, CompleteRender(video=video, cost=cost), meta
            )

    async def cancelled(self, state: JobState) -> bool:
        events = await self.core.store.read_stream(job_stream(state.job_id), state.version)
        return any(isinstance(e.data, JobCancelled) for e in events)

    async def watch(
        self,
        state: JobState,
        progress: Progress,
        work: asyncio.Future[Any],
        started: float,
        meta: Metadata,
    ) -> None:
        """Checks for cancellation and reports throttled progress until the render ends."""
        last_percent, last_time = -1, 0.0
        checked = time.monotonic()
        while not work.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CANCEL_POLL_SECONDS):
                    await progress.moved.wait()
            progress.moved.clear()
            if time.monotonic() - checked >= CANCEL_POLL_SECONDS:
                checked = time.monotonic()
                if await self.cancelled(state):
                    progress.cancelled = True
                    work.cancel()  # kills the render's child process
                    return
            percent = int(100 * progress.done / progress.total) if progress.total else 0
            if percent == 0:
                continue  # 0% is what the job already shows; the first report is its first step
            now = time.monotonic()
            since = now - last_time
            if (
                percent > last_percent
                and since >= PROGRESS_MIN_SECONDS
                and (percent - last_percent >= PROGRESS_STEP or since >= PROGRESS_SECONDS)
            ):
                elapsed = now - started
                rate = progress.done / elapsed if elapsed > 0 else 0
                eta = (progress.total - progress.done) / rate if rate else None
                command = ReportProgress(
                    percent=percent,
                    eta_seconds=round(eta, 1) if eta is not None else None,
                    frames_done=progress.done,
                    frames_total=progress.total,
                )
                with contextlib.suppress(InvalidTransition):
                    await execute(self.core.store, state.job_id, command, meta)
                last_percent, last_time = percent, now


async def run(core: Core, nc: NATS, stop: asyncio.Event) -> None:
    settings = core.settings
    renderer = Renderer(core)
    spec = service_spec(
        core.store,
        settings,
        name=NAME,
        subjects=SUBJECTS,
        handle=renderer.handle,
        stage="rendering",
        # Beyond this many renders, jobs wait in JetStream in the order of the log (fetches take
        # only what a free slot can start), and the render_queue read model shows their place.
        concurrency=settings.render_concurrency,
    )
    try:
        await ServiceRunner(spec, nc.jetstream()).run(stop)
    finally:
        await renderer.sandbox.close()
