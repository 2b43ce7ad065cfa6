"""The soundtrack of a narrated ad: each scene's voiceover at its scene's start plus its lead, over
the music ducked under speech, normalised to -16 LUFS integrated.

Loudness is measured with FFmpeg's `ebur128` filter through PyAV (ITU-R BS.1770-4 / EBU R128:
K-weighting, 400 ms blocks, -70 LUFS absolute and -10 LU relative gates), the method broadcasters
and the streaming platforms' -14/-16 LUFS targets use. All narration is known before the render
starts, so the mix is walked three times, a second at a time (memory holds the decoded narrations
and one block, never the whole mix): (1) speech and music are measured apart (two meters, one
walk), to set speech at the target and the music bed `MUSIC_BED_DB` under it; (2) that mix is
measured; (3) it is played out
with the gain that brings it to the target, through a soft clipper above -3 dBFS for the rare
peak that would pass full scale. Measured by `bench/voice.py` on the shared 2-core machine (load
average 9-14): the whole 30 s soundtrack with music takes 0.34-0.76 s with narration against
0.05-0.11 s without; blocks of 1 s instead of 1024-sample frames, narrations decoded once and one
walk for both meters took it down from 0.75 s at the lighter load.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

import av
import av.filter
import numpy as np

from .assets import reading
from .audio import CHANNELS, FRAME_SAMPLES, Soundtrack
from .encode import AUDIO_LAYOUT, AUDIO_SAMPLE_RATE
from .spec import RenderAsset

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator, Sequence

    from numpy.typing import NDArray

    from adpipe.events.narration import WordTiming

    Samples = NDArray[np.float32]

TARGET_LUFS = -16.0  # integrated; the usual target for ads on the web and in apps
MUSIC_BED_DB = -8.0  # the music, where nobody speaks, this far under the speech
DUCK_DB = -12.0  # and this much further down while somebody does
DUCK_ATTACK_SECONDS = 0.12  # the music starts going down this long before a phrase
DUCK_RELEASE_SECONDS = 0.4  # and comes back up over this long after it
PHRASE_GAP_SECONDS = 0.6  # shorter silences inside a narration keep the music down
SOFT_CLIP_KNEE = 10 ** (-3 / 20)
# The mix is computed a second at a time: per-frame (1024-sample) numpy and filter calls cost
# ~0.7 s of Python per 30 s walk, in the thread that also feeds x264; a second's block is 384 KB.
BLOCK_SAMPLES = AUDIO_SAMPLE_RATE


class PlacedNarration(NamedTuple):
    """A narration file and where it plays: from `start` to at most `stop` in samples of the
    ad; `phrases` are the spoken stretches (ad samples) the music ducks under."""

    asset: RenderAsset
    start: int
    stop: int
    phrases: list[tuple[int, int]]


def phrases_of(words: Sequence[WordTiming], start: int, stop: int) -> list[tuple[int, int]]:
    """Spoken stretches in ad samples: words joined across pauses under `PHRASE_GAP_SECONDS`.
    Without timings, the whole of [start, stop) counts as speech."""
    spans: list[tuple[int, int]] = []
    for word in words:
        first = start + round(word.start * AUDIO_SAMPLE_RATE)
        last = min(stop, start + round(word.end * AUDIO_SAMPLE_RATE))
        if first >= stop:
            break
        if spans and first - spans[-1][1] < PHRASE_GAP_SECONDS * AUDIO_SAMPLE_RATE:
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((first, max(first, last)))
    return spans or [(start, stop)]


def _decode_narration(asset: RenderAsset) -> Samples:
    """The whole narration as mono float32 at the output rate (one scene's worth)."""
    with reading(asset, "decoded as narration audio"), av.open(asset.path, "r") as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SAMPLE_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


class _Walk:
    """One pass over the soundtrack in blocks of `BLOCK_SAMPLES`: (speech, music, duck) per
    block; speech mono, music stereo and not yet ducked, duck the music's gain 0..1."""

    def __init__(
        self,
        music: RenderAsset | None,
        seconds: float,
        placed: list[PlacedNarration],
        voices: dict[int, Samples] | None = None,
    ) -> None:
        self.total_samples = round(seconds * AUDIO_SAMPLE_RATE)
        self._music = Soundtrack(music, seconds) if music is not None else None
        self._placed = sorted(placed, key=lambda p: p.start)
        self._voices = voices if voices is not None else {}
        self._phrases = sorted(span for p in placed for span in p.phrases)
        self._duck = 10 ** (DUCK_DB / 20)
        self._attack = DUCK_ATTACK_SECONDS * AUDIO_SAMPLE_RATE
        self._release = DUCK_RELEASE_SECONDS * AUDIO_SAMPLE_RATE

    def parts(self) -> Iterator[tuple[Samples, Samples | None, Samples]]:
        current: tuple[int, Samples] | None = None  # (start, samples) of the narration in play
        upcoming = iter(self._placed)
        pending = next(upcoming, None)
        try:
            for begin in range(0, self.total_samples, BLOCK_SAMPLES):
                end = min(begin + BLOCK_SAMPLES, self.total_samples)
                speech = np.zeros(end - begin, np.float32)
                while True:
                    if current is not None and current[0] + current[1].size <= begin:
                        current = None  # finished: free it
                    if current is None and pending is not None and pending.start < end:
                        # Cut at the scene's end: speech never runs into the next scene.
                        voice = self._voices.get(pending.start)
                        if voice is None:
                            length = max(0, pending.stop - pending.start)
                            voice = _decode_narration(pending.asset)[:length]
                        current = (pending.start, voice)
                        pending = next(upcoming, None)
                    if current is not None:
                        start, samples = current
                        lo, hi = max(begin, start), min(end, start + samples.size)
                        if hi > lo:
                            speech[lo - begin : hi - begin] = samples[lo - start : hi - start]
                        if start + samples.size < end and pending is not None:
                            current = None  # it ends inside this block: the next may start
                            continue
                    break
                music = self._music.samples(end - begin) if self._music is not None else None
                yield speech, music, self._envelope(begin, end)
        finally:
            if self._music is not None:
                self._music.close()

    def _envelope(self, begin: int, end: int) -> Samples:
        """The music's gain: DUCK_DB under each phrase, ramping down over the attack before it
        and back up over the release after it."""
        depth = np.zeros(end - begin, np.float32)
        positions: Samples | None = None
        for first, last in self._phrases:
            if last + self._release <= begin or first - self._attack >= end:
                continue
            if positions is None:
                positions = np.arange(begin, end, dtype=np.float32)
            rising = (positions - (first - self._attack)) / self._attack
            falling = ((last + self._release) - positions) / self._release
            np.maximum(depth, np.clip(np.minimum(rising, falling), 0.0, 1.0), out=depth)
        return (1.0 - (1.0 - self._duck) * depth).astype(np.float32)


class LoudnessMeter:
    """Integrated loudness (LUFS) of stereo (2, n) float blocks at the output rate, by FFmpeg's
    `ebur128`, fed block by block."""

    def __init__(self) -> None:
        self._graph = av.filter.Graph()
        source = self._graph.add_abuffer(
            format="fltp",
            sample_rate=AUDIO_SAMPLE_RATE,
            layout=AUDIO_LAYOUT,
            time_base=Fraction(1, AUDIO_SAMPLE_RATE),
        )
        meter = self._graph.add("ebur128", "metadata=1")
        sink = self._graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        self._graph.configure()
        self._value: str | None = None
        self._sent = 0

    def add(self, block: Samples) -> None:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout=AUDIO_LAYOUT
        )
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
        frame.pts = self._sent
        self._sent += block.shape[1]
        self._graph.push(frame)
        self._drain()

    def result(self) -> float | None:
        """The loudness of everything added; None for silence (nothing passes the gates)."""
        self._graph.push(None)
        self._drain()
        if self._value is None:
            return None
        loudness = float(self._value)
        return loudness if math.isfinite(loudness) and loudness > -69.9 else None

    def _drain(self) -> None:
        while True:
            try:
                out = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            self._value = out.metadata.get("lavfi.r128.I", self._value)


def integrated_loudness(chunks: Iterable[Samples]) -> float | None:
    """Integrated loudness in LUFS of stereo (2, n) float chunks at the output rate (see
    `LoudnessMeter`); None for silence."""
    meter = LoudnessMeter()
    for chunk in chunks:
        meter.add(chunk)
    return meter.result()


def _stereo(mono: Samples) -> Samples:
    return np.broadcast_to(mono, (CHANNELS, mono.size))


def _gain(measured: float | None, target: float) -> float:
    return 1.0 if measured is None else 10 ** ((target - measured) / 20)


def soft_clip(samples: Samples) -> Samples:
    """Unchanged below the knee (-3 dBFS); above it, bent smoothly towards full scale."""
    magnitude = np.abs(samples)
    if float(magnitude.max(initial=0.0)) <= SOFT_CLIP_KNEE:
        return samples
    room = 1.0 - SOFT_CLIP_KNEE
    bent = SOFT_CLIP_KNEE + room * np.tanh((magnitude - SOFT_CLIP_KNEE) / room)
    return np.where(magnitude > SOFT_CLIP_KNEE, np.sign(samples) * bent, samples).astype(np.float32)


class NarratedSoundtrack:
    """The same interface as `Soundtrack` (frames on demand, `total_samples` long) for a mix
    with narration; measuring happens here, before the first frame is asked for."""

    def __init__(
        self, music: RenderAsset | None, seconds: float, placed: list[PlacedNarration]
    ) -> None:
        self._music = music
        self._seconds = seconds
        self._placed = placed
        self.total_samples = round(seconds * AUDIO_SAMPLE_RATE)
        # Decoded once for the three walks (opening a file costs ~10 ms under PyAV's probing):
        # about 0.2 MB per spoken second, 23 MB for a fully narrated 120 s ad.
        self._voices = {
            p.start: _decode_narration(p.asset)[: max(0, p.stop - p.start)] for p in placed
        }
        self.speech_gain, self.music_gain, self.gain = self._levels()
        self._frames = self._play()
        self._sent = 0

    def _levels(self) -> tuple[float, float, float]:
        """(speech gain, music gain, final gain): speech at the target, the music bed under it,
        then the whole mix to the target. Speech and music are measured in one walk."""
        speech_meter, music_meter = LoudnessMeter(), LoudnessMeter()
        for speech, music, _ in self._walk().parts():
            speech_meter.add(_stereo(speech))
            if music is not None:
                music_meter.add(music)
        speech_gain = _gain(speech_meter.result(), TARGET_LUFS)
        music_gain = _gain(music_meter.result(), TARGET_LUFS + MUSIC_BED_DB)
        mixed = integrated_loudness(
            self._mix(s, m, d, speech_gain, music_gain) for s, m, d in self._walk().parts()
        )
        return speech_gain, music_gain, _gain(mixed, TARGET_LUFS)

    def _walk(self) -> _Walk:
        return _Walk(self._music, self._seconds, self._placed, self._voices)

    @staticmethod
    def _mix(
        speech: Samples, music: Samples | None, duck: Samples, speech_gain: float, music_gain: float
    ) -> Samples:
        mixed = np.empty((CHANNELS, speech.size), np.float32)
        mixed[:] = speech * speech_gain
        if music is not None:
            mixed += music * (duck * music_gain)
        return mixed

    def _play(self) -> Generator[av.AudioFrame, None, None]:
        sent = 0
        for speech, music, duck in self._walk().parts():
            block = self._mix(speech, music, duck, self.speech_gain, self.music_gain)
            block = soft_clip(block * np.float32(self.gain))
            for first in range(0, block.shape[1], FRAME_SAMPLES):
                samples = np.ascontiguousarray(block[:, first : first + FRAME_SAMPLES])
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=AUDIO_LAYOUT)
                frame.sample_rate = AUDIO_SAMPLE_RATE
                frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
                frame.pts = sent
                sent += samples.shape[1]
                yield frame

    def frames_until(self, sample: int) -> Iterator[av.AudioFrame]:
        """Frames covering [already sent, sample), clipped to the total."""
        target = min(sample, self.total_samples)
        while self._sent < target:
            frame = next(self._frames, None)
            if frame is None:
                return
            self._sent += frame.samples
            yield frame

    def close(self) -> None:
        self._frames.close()
