"""Word timings: from espeak-ng's word events tightened to the audio's energy, or, for a cloud
voice that reports none, estimated by laying the words over the audio's voiced stretches."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from adpipe.events.narration import WordTiming

from .pcm import FRAME_SECONDS, active_frames, frame_energy

if TYPE_CHECKING:
    from numpy.typing import NDArray

_WORD = re.compile(r"\S+")
# Silences shorter than this inside voiced audio are a stop consonant, not a pause between words.
MIN_PAUSE_SECONDS = 0.12


def script_words(text: str) -> list[tuple[int, int, str]]:
    """The script's words as (first character, end character, word): split at whitespace with
    their punctuation, the same words captions show."""
    return [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def from_word_events(
    text: str,
    events: Sequence[tuple[int, float]],
    duration: float,
    active: NDArray[np.bool_],
) -> list[WordTiming]:
    """Timings of `text`'s words from the engine's word events (character index, seconds).

    espeak-ng reports where each of *its* words starts; it splits "SmartWatch.com" into four and
    skips lone punctuation, so a script word starts at its first event and a word without one
    starts where the next spoken word does. A word nominally lasts until the next one starts;
    its end is then pulled back to its last voiced frame, so the pause after a full stop belongs
    to no word. `active` marks the voiced `FRAME_SECONDS` frames.
    """
    words = script_words(text)
    starts: list[float | None] = [None] * len(words)
    for position, seconds in events:
        for index, (first, end, _word) in enumerate(words):
            if first <= position < end:
                current = starts[index]
                starts[index] = seconds if current is None else min(current, seconds)
                break
    resolved: list[float] = []
    upcoming = duration
    for start in reversed(starts):
        upcoming = start if start is not None else upcoming
        resolved.append(min(upcoming, duration))
    resolved.reverse()
    for index in range(1, len(resolved)):  # events arrive in order; keep them so
        resolved[index] = max(resolved[index], resolved[index - 1])
    timings = []
    for index, (_first, _end, word) in enumerate(words):
        start = resolved[index]
        limit = resolved[index + 1] if index + 1 < len(words) else duration
        begin, finish = _tighten(start, limit, active)
        timings.append(WordTiming(word=word, start=round(begin, 3), end=round(finish, 3)))
    return timings


def _tighten(start: float, limit: float, active: NDArray[np.bool_]) -> tuple[float, float]:
    """[start, limit) shrunk to its first and last voiced frame; empty if nothing is voiced."""
    first = int(np.floor(start / FRAME_SECONDS + 1e-9))
    last = int(np.ceil(limit / FRAME_SECONDS - 1e-9))
    voiced = np.flatnonzero(active[first:last])
    if voiced.size == 0:
        return start, start
    begin = max(start, (first + int(voiced[0])) * FRAME_SECONDS)
    end = min(limit, (first + int(voiced[-1]) + 1) * FRAME_SECONDS)
    return begin, max(begin, end)


def voiced_segments(active: NDArray[np.bool_]) -> list[tuple[float, float]]:
    """Voiced stretches in seconds, joined across gaps shorter than `MIN_PAUSE_SECONDS`."""
    segments: list[tuple[float, float]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        start, stop = float(begin) * FRAME_SECONDS, float(end) * FRAME_SECONDS
        if segments and start - segments[-1][1] < MIN_PAUSE_SECONDS:
            segments[-1] = (segments[-1][0], stop)
        else:
            segments.append((start, stop))
    return segments


_CLAUSE_END = (".", "!", "?", ";", ":", ",", "…")


def estimate_from_energy(
    text: str, samples: NDArray[np.floating], rate: int, duration: float
) -> list[WordTiming]:
    """Timings for audio that came without them (a cloud voice).

    Speaking time is roughly proportional to letters, so each word gets a share of the *voiced*
    time (`voiced_segments`: silences skipped) proportional to its letters plus one (a short word
    still takes a beat). Voices pause between words, mostly at punctuation, so each pause is then
    pinned to the word boundary nearest to it (a boundary after punctuation counts as nearer),
    and the words between two pins share the voiced time between them: a pause falls between two
    words instead of inside one. With no voiced frames, the whole duration is shared out.
    """
    words = script_words(text)
    if not words:
        return []
    segments = voiced_segments(active_frames(frame_energy(samples, rate)))
    if not segments:
        segments = [(0.0, duration)]
    lengths = [end - start for start, end in segments]
    pauses = list(np.cumsum(lengths))  # voiced-time offsets of each segment's end
    voiced = float(pauses.pop())
    weights = [len(word.strip("\"'()[]" + "".join(_CLAUSE_END))) + 1.0 for _, _, word in words]
    bounds = list(np.cumsum([0.0, *weights]) / sum(weights) * voiced)
    # Pin pauses to word boundaries, in order.
    mean_word = voiced / len(words)
    pins: list[tuple[int, float]] = [(0, 0.0)]
    for pause in pauses:
        best: tuple[float, int] | None = None
        for k in range(pins[-1][0] + 1, len(words)):
            cost = abs(float(bounds[k]) - float(pause))
            if words[k - 1][2].endswith(_CLAUSE_END):
                cost -= 0.5 * mean_word
            if best is None or cost < best[0]:
                best = (cost, k)
        if best is not None and best[0] <= mean_word:
            pins.append((best[1], float(pause)))
    pins.append((len(words), voiced))
    offsets = [0.0] * (len(words) + 1)
    for (k0, at0), (k1, at1) in itertools.pairwise(pins):
        share = sum(weights[k0:k1])
        running = 0.0
        for k in range(k0, k1):
            offsets[k] = at0 + (at1 - at0) * running / share
            running += weights[k]
        offsets[k1] = at1

    def at(offset: float, *, closing: bool) -> float:
        """The real time `offset` seconds into the voiced time; a boundary on a segment edge
        stays in the segment its word belongs to (`closing`: the word ends there)."""
        for (start, _end), length in zip(segments, lengths, strict=True):
            if offset < length - 1e-9 or (closing and offset <= length + 1e-9):
                return start + min(offset, length)
            offset -= length
        return segments[-1][1]

    timings = []
    for index, (_first, _end, word) in enumerate(words):
        start = at(offsets[index], closing=False)
        end = max(start, at(offsets[index + 1], closing=True))
        timings.append(WordTiming(word=word, start=round(start, 3), end=round(end, 3)))
    return timings
