"""The soundtrack: the job's music, decoded as the video advances, trimmed and faded out; or
silence. A track shorter than the ad is followed by silence (a loop audibly restarts)."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np

from .assets import reading
from .encode import AUDIO_LAYOUT, AUDIO_SAMPLE_RATE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

    from .spec import RenderAsset

FRAME_SAMPLES = 1024  # one AAC frame
FADE_OUT_SECONDS = 2.0
FADE_IN_SECONDS = 0.03  # a few ms of ramp so a track cut mid-note does not click
CHANNELS = 2


class Soundtrack:
    """Audio frames on demand up to a sample position; exactly `total_samples` long overall."""

    def __init__(self, asset: RenderAsset | None, seconds: float) -> None:
        self.total_samples = round(seconds * AUDIO_SAMPLE_RATE)
        self._asset = asset
        self._sent = 0
        self._container: av.container.InputContainer | None = None
        self._pending = np.zeros((CHANNELS, 0), np.float32)
        self._music: Iterator[NDArray[np.float32]] | None = None
        fade = min(FADE_OUT_SECONDS, seconds / 4)
        self._fade_from = self.total_samples - round(fade * AUDIO_SAMPLE_RATE)
        self._fade_in = round(FADE_IN_SECONDS * AUDIO_SAMPLE_RATE)
        if asset is not None:
            with reading(asset, "opened as audio"):
                self._container = av.open(asset.path, "r")
            self._music = self._decode(self._container)

    def frames_until(self, sample: int) -> Iterator[av.AudioFrame]:
        """Frames covering [already sent, sample), clipped to the total."""
        target = min(sample, self.total_samples)
        while self._sent < target:
            count = min(FRAME_SAMPLES, self.total_samples - self._sent)
            samples = self._take(count)
            if self._music is not None:
                samples = self._shape(samples, self._sent)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=AUDIO_LAYOUT)
            frame.sample_rate = AUDIO_SAMPLE_RATE
            frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
            frame.pts = self._sent
            self._sent += count
            yield frame

    def samples(self, count: int) -> NDArray[np.float32]:
        """The next `count` samples (fewer at the end) as a (2, n) array, shaped as the frames
        are: the narrated mix reads the music in large blocks."""
        count = min(count, self.total_samples - self._sent)
        samples = self._take(count)
        if self._asset is not None:
            samples = self._shape(samples, self._sent)
        self._sent += count
        return samples

    def close(self) -> None:
        self._music = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def _take(self, count: int) -> NDArray[np.float32]:
        # Chunks are joined once: appending each to the pending buffer copied it again for
        # every chunk of a large request.
        parts, have = [self._pending], self._pending.shape[1]
        while have < count and self._music is not None:
            assert self._asset is not None
            with reading(self._asset, "decoded"):
                chunk = next(self._music, None)
            if chunk is None:
                self._music = None  # the track is over: silence from here
                break
            parts.append(chunk)
            have += chunk.shape[1]
        if len(parts) > 1:
            self._pending = np.concatenate(parts, axis=1)
        if self._pending.shape[1] < count:
            missing = count - self._pending.shape[1]
            self._pending = np.concatenate(
                [self._pending, np.zeros((CHANNELS, missing), np.float32)], axis=1
            )
        taken, self._pending = self._pending[:, :count], self._pending[:, count:]
        return np.ascontiguousarray(taken)

    def _shape(self, samples: NDArray[np.float32], start: int) -> NDArray[np.float32]:
        """Fade in over the first few ms and out over the last seconds."""
        positions = np.arange(start, start + samples.shape[1], dtype=np.float32)
        gain = np.ones_like(positions)
        if start < self._fade_in:
            gain = np.minimum(gain, positions / self._fade_in)
        if start + samples.shape[1] > self._fade_from:
            span = max(1, self.total_samples - self._fade_from)
            gain = np.minimum(gain, np.clip((self.total_samples - positions) / span, 0.0, 1.0))
        return (samples * gain).astype(np.float32)

    @staticmethod
    def _decode(container: av.container.InputContainer) -> Iterator[NDArray[np.float32]]:
        resampler = av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_SAMPLE_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                yield out.to_ndarray().astype(np.float32, copy=False)
        for out in resampler.resample(None):
            yield out.to_ndarray().astype(np.float32, copy=False)
