"""Subtitles from narration: the scripts cut into short phrases, each shown from the moment its
first word is spoken, as cues for the burned-in captions and the SRT/WebVTT sidecars. Pure."""

from __future__ import annotations

import datetime
import html
import math
import re
from collections.abc import Sequence

import msgspec

from adpipe.events.narration import WordTiming

# A phrase stays up after its last word this long (unless the next one comes first), so a short
# phrase can still be read; no cue is shorter than MIN_CUE_SECONDS (phrases closer are merged).
HOLD_SECONDS = 1.5
MIN_CUE_SECONDS = 0.2
# estimate_words: without narration, the script is laid over the scene at this share of it,
# from this far in, at most as fast as a calm reader speaks.
_ESTIMATE_LEAD_SECONDS = 0.15
_ESTIMATE_SECONDS_PER_WEIGHT = 0.065  # about 150 words a minute
_SENTENCE_END = (".", "!", "?", "…", ";", ":")
_WORD = re.compile(r"\S+")


class Cue(msgspec.Struct, frozen=True):
    """One subtitle: `text` is shown from `start` to `end`, in seconds of the video."""

    start: float
    end: float
    text: str


class SceneWords(msgspec.Struct, frozen=True, kw_only=True):
    """A scene's place in the video and its script's words; `words` are timed from the start of
    its narration, which begins `offset` seconds into the scene."""

    scene_start: float
    scene_duration: float
    offset: float
    words: list[WordTiming]
    script: str


def estimate_words(script: str, duration: float) -> list[WordTiming]:
    """Timings for a script that is not spoken (voiceover off): each word gets time in
    proportion to its letters, read at a calm pace from a moment into the scene and never past
    its end, so sidecar subtitles and burned captions follow the same rules either way."""
    words = _WORD.findall(script)
    if not words:
        return []
    weights = [len(w) + 1.0 for w in words]
    lead = min(_ESTIMATE_LEAD_SECONDS, duration / 10)
    span = max(0.0, duration - 2 * lead)
    per_weight = min(_ESTIMATE_SECONDS_PER_WEIGHT, span / sum(weights))
    timings = []
    at = lead
    for word, weight in zip(words, weights, strict=True):
        end = at + weight * per_weight
        timings.append(WordTiming(word=word, start=round(at, 3), end=round(end, 3)))
        at = end
    return timings


def _phrases(words: Sequence[WordTiming], max_words: int, max_chars: int) -> list[list[int]]:
    """Indices of `words` grouped into phrases: cut after a sentence's end, after a comma once
    the phrase has three words, and before a word that would pass `max_words` or `max_chars`."""
    phrases: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for index, word in enumerate(words):
        extra = len(word.word) + (1 if current else 0)
        if current and (len(current) >= max_words or chars + extra > max_chars):
            phrases.append(current)
            current, chars, extra = [], 0, len(word.word)
        current.append(index)
        chars += extra
        if word.word.endswith(_SENTENCE_END) or (word.word.endswith(",") and len(current) >= 3):
            phrases.append(current)
            current, chars = [], 0
    if current:
        phrases.append(current)
    return phrases


def _scene_cues(scene: SceneWords, max_words: int, max_chars: int) -> list[Cue]:
    script_words = _WORD.findall(scene.script)
    if not script_words or scene.scene_duration <= 0:
        return []
    words = scene.words
    offset = scene.offset
    if [w.word for w in words] != script_words:
        # Timings of another text (a narration for an older script): never show wrong words.
        words, offset = estimate_words(scene.script, scene.scene_duration), 0.0
    # Times are whole milliseconds (what SRT and WebVTT carry), rounded into the scene.
    begin = math.ceil(scene.scene_start * 1000 - 1e-6) / 1000
    finish = math.floor((scene.scene_start + scene.scene_duration) * 1000 + 1e-6) / 1000
    if finish - begin < 0.01:  # no time to show anything
        return []
    shortest = min(MIN_CUE_SECONDS, finish - begin)
    latest_start = round(finish - shortest, 3)

    def clamp(seconds: float) -> float:
        return min(max(round(scene.scene_start + offset + seconds, 3), begin), latest_start)

    phrases = _phrases(words, max_words, max_chars)
    starts = [clamp(words[p[0]].start) for p in phrases]
    ends = [clamp(max(words[i].end for i in p)) for p in phrases]
    # Merge a phrase into the one before when it would start too soon after it.
    merged: list[tuple[float, float, list[int]]] = []
    for start, end, phrase in zip(starts, ends, phrases, strict=True):
        if merged and start < merged[-1][0] + shortest:
            first, last, indices = merged[-1]
            merged[-1] = (first, max(last, end), indices + phrase)
        else:
            merged.append((start, end, phrase))
    cues = []
    for k, (start, spoken_until, indices) in enumerate(merged):
        following = merged[k + 1][0] if k + 1 < len(merged) else finish
        end = min(following, max(spoken_until + HOLD_SECONDS, start + shortest))
        text = " ".join(words[i].word for i in indices)
        cues.append(Cue(start=start, end=round(end, 3), text=text))
    return cues


def build_cues(
    scenes: Sequence[SceneWords], *, max_words: int = 7, max_chars: int = 42
) -> list[Cue]:
    """Cues for the whole video: in order, never overlapping, each inside its scene (scenes must
    follow one another), and their words joined are the scripts' words. A scene whose script is
    empty has none."""
    cues: list[Cue] = []
    for scene in scenes:
        cues.extend(_scene_cues(scene, max_words, max_chars))
    return cues


def _delta(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=round(seconds * 1000))


def to_srt(cues: Sequence[Cue]) -> str:
    import srt

    return str(
        srt.compose(
            [
                srt.Subtitle(index=n, start=_delta(c.start), end=_delta(c.end), content=c.text)
                for n, c in enumerate(cues, start=1)
            ],
            reindex=False,
        )
    )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT; cue text is escaped (`&`, `<`, `>`), as the format requires."""
    import webvtt

    document = webvtt.WebVTT()
    for cue in cues:
        document.captions.append(
            webvtt.Caption(
                start=_vtt_time(cue.start),
                end=_vtt_time(cue.end),
                text=html.escape(cue.text, quote=False),
            )
        )
    return str(document.content)
