"""`render`: storyboard + local asset files -> MP4, streaming, cancellable, with progress.
A producer thread composites ahead while this one encodes; numpy, swscale and x264 release the GIL,
and a short queue between the two bounds memory."""

from __future__ import annotations

import contextlib
import math
import os
import queue
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import av

from .assets import check_audio, preflight, visual_assets
from .audio import Soundtrack
from .compose import Composer
from .encode import AUDIO_SAMPLE_RATE, add_audio_stream, add_video_stream, open_output
from .narration import NarratedSoundtrack, PlacedNarration, phrases_of
from .spec import RenderAsset, RenderCancelled, RenderFailed, RenderResult, frame_size
from .timeline import plan_timeline

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from .spec import RenderSpec
    from .timeline import Timeline

# Frames composited ahead of the encoder, budgeted in bytes: ~35 frames at 720p, ~16 at 1080p,
# a lead that rides out a scene change (a still being scaled, a clip being opened) in bounded
# memory. On the benchmark any lead from 12 to 100 frames measured the same.
QUEUE_BYTES = 48 * 2**20
MIN_QUEUE_FRAMES = 12
# x264's two frame threads wait on each other (a frame needs rows of its reference), so even
# alone they leave the two cores ~10% idle. The compositor thread runs this much nicer than them:
# it takes those gaps and the time x264 waits for frames, instead of contending for the cores
# when both could run. Measured on the 2-core target (medians of interleaved runs), ours/encode
# floor went from 1.30x to 1.23-1.26x at 720p and from 1.17x to 1.07-1.10x at 1080p, and a 30 s
# render spent ~0.7 s less CPU.
COMPOSITOR_NICE = 10
POLL_SECONDS = 0.1  # how often a blocked wait re-checks for cancellation
MAX_FPS = 60
MAX_SECONDS = 30 * 60  # ads are short; this bounds a render's time and disk whatever comes in


def render(
    spec: RenderSpec,
    assets: Mapping[str, RenderAsset],
    out_path: str | Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> RenderResult:
    """Render `spec` to `out_path`; raises `RenderFailed` or `RenderCancelled`, leaving no file.

    `on_progress(done, total)` is called after every frame (the caller throttles) and last with
    `(total, total)` once the file is complete. `is_cancelled()` is polled at least every
    `POLL_SECONDS` and must be cheap.
    """
    cancelled = is_cancelled or (lambda: False)
    _validate(spec)
    width, height = frame_size(spec.aspect_ratio, spec.resolution)
    preflight(spec, assets)
    timeline = plan_timeline(spec.scenes, visual_assets(spec, assets).keys(), spec.fps)
    total = timeline.total_frames
    music = assets[spec.audio_asset_id] if spec.audio_asset_id is not None else None

    out = Path(out_path)
    # Written under a temporary name and renamed when complete: a crash or cancel never leaves
    # a truncated MP4 where a finished one is expected.
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    frame_bytes = width * height * 3 // 2
    producer = _Producer(
        Composer(spec, assets, timeline, (width, height)),
        total,
        max(MIN_QUEUE_FRAMES, QUEUE_BYTES // frame_bytes),
    )
    soundtrack: Soundtrack | NarratedSoundtrack | None = None
    output: _Output | None = None
    try:
        # The compositor starts first: it opens the first scene's sources and draws its first
        # frames while this thread measures the narrated mix's loudness (~0.1 s for a 30 s ad),
        # which used to hold back the first frame.
        producer.start()
        if spec.narrations:
            placed = _place_narrations(spec, timeline)
            soundtrack = NarratedSoundtrack(music, total / spec.fps, placed)
        else:
            soundtrack = Soundtrack(music, total / spec.fps)
        output = _Output(partial, width, height, spec.fps)
        for index in range(total):
            if cancelled():
                raise RenderCancelled()
            output.video(producer.next(cancelled))
            output.audio(soundtrack.frames_until((index + 1) * AUDIO_SAMPLE_RATE // spec.fps))
            if on_progress is not None and index + 1 < total:
                on_progress(index + 1, total)
        output.audio(soundtrack.frames_until(soundtrack.total_samples))
        output.finish()
        os.replace(partial, out)
    except BaseException:
        producer.stop()
        if output is not None:
            output.abort()
        partial.unlink(missing_ok=True)
        raise
    finally:
        producer.stop()
        if soundtrack is not None:
            soundtrack.close()
    if on_progress is not None:
        on_progress(total, total)
    return RenderResult(
        duration_seconds=total / spec.fps,
        width=width,
        height=height,
        frames=total,
        size_bytes=out.stat().st_size,
    )


def _place_narrations(spec: RenderSpec, timeline: Timeline) -> list[PlacedNarration]:
    """Each narration at its scene's start (on the frame grid, as the pictures) plus its lead,
    cut off at the scene's end should it run longer: speech never runs into the next scene."""
    slots = {slot.scene.scene_number: slot for slot in timeline.slots}
    placed = []
    for narration in spec.narrations:
        slot = slots[narration.scene_number]
        asset = RenderAsset(
            id=f"narration of scene {narration.scene_number}", type="audio", path=narration.path
        )
        check_audio(asset)
        start = round((slot.start / timeline.fps + narration.lead_seconds) * AUDIO_SAMPLE_RATE)
        stop = round(slot.end / timeline.fps * AUDIO_SAMPLE_RATE)
        placed.append(
            PlacedNarration(
                asset=asset,
                start=start,
                stop=stop,
                phrases=phrases_of(narration.words, start, stop),
            )
        )
    return placed


def _validate(spec: RenderSpec) -> None:
    if not spec.scenes:
        raise RenderFailed("the storyboard has no scenes")
    if not 1 <= spec.fps <= MAX_FPS:
        raise RenderFailed(f"fps must be between 1 and {MAX_FPS}, not {spec.fps}")
    for scene in spec.scenes:
        if not (math.isfinite(scene.duration) and scene.duration > 0):
            raise RenderFailed(f"scene {scene.scene_number} has duration {scene.duration}")
    numbers = {s.scene_number for s in spec.scenes}
    narrated: set[int] = set()
    for narration in spec.narrations:
        if narration.scene_number not in numbers or narration.scene_number in narrated:
            raise RenderFailed(
                f"narration for scene {narration.scene_number}: the storyboard has no such "
                "scene, or it has two narrations"
            )
        if not (math.isfinite(narration.lead_seconds) and narration.lead_seconds >= 0):
            raise RenderFailed(
                f"narration for scene {narration.scene_number} has lead {narration.lead_seconds}"
            )
        narrated.add(narration.scene_number)
    total = sum(s.duration for s in spec.scenes)
    if round(total * spec.fps) < 1:
        raise RenderFailed("the storyboard is shorter than one frame")
    if total > MAX_SECONDS:
        raise RenderFailed(f"the storyboard lasts {total:.0f} s, more than {MAX_SECONDS} s")


class _Output:
    """The MP4 being written; write errors (disk full, say) become `RenderFailed`."""

    def __init__(self, path: Path, width: int, height: int, fps: int) -> None:
        with _writing():
            self._container = open_output(path)
            self._video = add_video_stream(self._container, width, height, fps)
            self._audio = add_audio_stream(self._container)

    def video(self, frame: av.VideoFrame | None) -> None:
        with _writing():
            for packet in self._video.encode(frame):
                self._container.mux(packet)

    def audio(self, frames: Iterable[av.AudioFrame | None]) -> None:
        with _writing():
            for frame in frames:
                for packet in self._audio.encode(frame):
                    self._container.mux(packet)

    def finish(self) -> None:
        self.video(None)
        self.audio([None])
        with _writing():
            self._container.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    try:
        yield
    except (av.FFmpegError, OSError) as error:
        raise RenderFailed(f"writing the video failed: {error}") from error


class _Producer:
    """Composites frames on a worker thread into a bounded queue; errors surface in `next`."""

    def __init__(self, composer: Composer, total: int, ahead: int) -> None:
        self._composer = composer
        self._total = total
        self._queue: queue.Queue[av.VideoFrame | BaseException] = queue.Queue(ahead)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="render-compositor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def next(self, cancelled: Callable[[], bool]) -> av.VideoFrame:
        while True:
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if cancelled():
                    raise RenderCancelled() from None
                if not self._thread.is_alive() and self._queue.empty():
                    raise RenderFailed("the compositor stopped without a reason") from None
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def stop(self) -> None:
        self._stopping.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            self._thread.join(timeout=POLL_SECONDS)

    def _run(self) -> None:
        _lower_priority(COMPOSITOR_NICE)
        try:
            for index in range(self._total):
                if self._stopping.is_set():
                    return
                self._put(self._composer.frame(index))
        except BaseException as error:  # handed to the encoding thread, which raises it
            self._put(error)
        finally:
            self._composer.close()

    def _put(self, item: av.VideoFrame | BaseException) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue


def _lower_priority(steps: int) -> None:
    """Make the calling thread `steps` nicer. Linux only: there a thread id names one thread,
    elsewhere it would renice the whole process. A refusal just leaves the priority as it is."""
    if steps <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + steps)
