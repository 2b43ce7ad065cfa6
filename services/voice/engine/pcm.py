"""Audio as numbers: WAV in and out, compressed audio decoded with PyAV, and the short-time energy
that tells speech from silence (word timings are refined and estimated from it)."""

from __future__ import annotations

import io
import wave
from typing import TYPE_CHECKING

import av
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

FRAME_SECONDS = 0.01  # energy is measured over 10 ms frames: shorter than any phoneme
# A frame is speech when its RMS is within this many dB of the loudest frame's. espeak-ng's
# quietest fricatives sit about 30 dB under its vowels; its pauses are digital silence, and a
# cloud voice's breaths and room tone sit 45-60 dB down.
ACTIVE_BELOW_PEAK_DB = 38.0
ABSOLUTE_FLOOR = 1e-4  # about -80 dBFS: nothing quieter is ever speech


def wav_bytes(samples: NDArray[np.int16], rate: int) -> bytes:
    """Mono 16-bit PCM WAV: every browser plays it, and the renderer reads it without loss."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return out.getvalue()


def decode_mono(data: bytes, rate: int = 16_000) -> NDArray[np.float32]:
    """Any audio file PyAV reads (MP3, WAV, Opus, AAC …) as mono float samples at `rate`.
    Raises `av.FFmpegError` or `ValueError` for data that is not audio."""
    with av.open(io.BytesIO(data), "r") as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[NDArray[np.float32]] = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    if not chunks:
        return np.zeros(0, np.float32)
    return np.concatenate(chunks)


def frame_energy(samples: NDArray[np.floating], rate: int) -> NDArray[np.float32]:
    """RMS of each `FRAME_SECONDS` frame (the last partial frame is dropped)."""
    size = max(1, round(rate * FRAME_SECONDS))
    count = len(samples) // size
    if count == 0:
        return np.zeros(0, np.float32)
    frames = np.asarray(samples[: count * size], dtype=np.float32).reshape(count, size)
    rms: NDArray[np.float32] = np.sqrt(np.mean(frames * frames, axis=1, dtype=np.float32))
    return rms


def active_frames(energy: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Which frames hold speech, relative to the loudest (see `ACTIVE_BELOW_PEAK_DB`)."""
    if energy.size == 0:
        return np.zeros(0, np.bool_)
    threshold = max(float(energy.max()) * 10 ** (-ACTIVE_BELOW_PEAK_DB / 20), ABSOLUTE_FLOOR)
    active: NDArray[np.bool_] = energy > threshold
    return active
