"""Narration of a job's scenes: the word timings shared by events, captions and the renderer, and
the two facts the voice service records — a scene's narration was made, or could not be."""

from __future__ import annotations

import msgspec

from .base import Event


class WordTiming(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One spoken word; `start`/`end` are seconds from the start of the narration's audio."""

    word: str
    start: float
    end: float


class NarrationSynthesized(Event, frozen=True, kw_only=True, tag="job.narration_synthesized"):
    """A scene's script was spoken; the audio is blob `blob_id`, to be played `lead_seconds` after
    the scene starts. When the speech did not fit, the scene was lengthened to `scene_duration`
    (from `planned_duration`) and `note` says so; `storyboard_seconds` is then the new total."""

    scene_number: int
    # The script and scene duration it was made for: a later edit of either makes it stale.
    script: str
    planned_duration: float
    blob_id: str
    content_type: str
    duration_seconds: float
    lead_seconds: float
    words: list[WordTiming] = []
    voice: str
    engine: str
    speed: float
    characters: int = 0
    cost: float = 0.0
    scene_duration: float
    lengthened: bool = False
    note: str = ""
    storyboard_seconds: float


class NarrationFailed(Event, frozen=True, kw_only=True, tag="job.narration_failed"):
    """A scene's script could not be spoken after the bounded retries; the storyboard stays in
    review and cannot be approved until an edit or a regeneration of the scene is narrated."""

    scene_number: int
    script: str
    code: str
    message: str
