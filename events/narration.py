"""Word timings of a scene's narration: which word is spoken when, shared by events, captions and
the renderer."""

from __future__ import annotations

import msgspec


class WordTiming(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One spoken word; `start`/`end` are seconds from the start of the narration's audio."""

    word: str
    start: float
    end: float
