"""Map a scene's free-text transition ("Fade in", "Fast cuts", "wipe left") onto what we draw.
Unknown labels are a plain cut (`FALLBACK_ENTRY`): a creative label never fails a render."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

Entry = Literal["cut", "fade_in", "crossfade", "dip", "wipe", "slide"]
Direction = Literal["left", "right", "up", "down"]

FALLBACK_ENTRY: Entry = "cut"


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """`entry`: how the scene appears; `fade_out`: its end fades to black; `fast_cuts`: a montage
    inside the scene cuts about once a second instead of once per asset."""

    entry: Entry = FALLBACK_ENTRY
    direction: Direction = "left"
    fade_out: bool = False
    fast_cuts: bool = False


# Order matters: the first pattern that matches decides the entry. "fade" alone (no in/out) is
# read as a dissolve, the usual meaning between two shots; on the first scene it becomes a fade in.
_ENTRY_PATTERNS: tuple[tuple[re.Pattern[str], Entry], ...] = (
    (re.compile(r"\bdip\b|\bfades?\s+(through|thru)\s+black\b"), "dip"),
    (re.compile(r"\bfade[\s-]*(in|up)\b|\bfade\s+from\s+black\b|\bfadein\b"), "fade_in"),
    (re.compile(r"\bcross[\s-]*(fade|dissolve)s?\b|\bdissolves?\b|\bmix\b|\bblend\b"), "crossfade"),
    (re.compile(r"\bwipes?\b"), "wipe"),
    (re.compile(r"\bslides?\b|\bpush(es)?\b|\bswipes?\b"), "slide"),
    (re.compile(r"\bfades?\b"), "crossfade"),
)
# Removed from the label before the entry is read, so "fade out" is not also taken as a dissolve.
_FADE_OUT = re.compile(r"\bfade[\s-]*(out|to\s+black)\b|\bfadeout\b")
_FAST_CUTS = re.compile(r"\b(fast|quick|rapid|jump)[\s-]*cuts?\b|\bmontage\b")
_DIRECTION = re.compile(r"\b(left|right|up|down)\b")


def parse_transition(text: str) -> Transition:
    """Read a transition label; unknown labels fall back to a cut (see `FALLBACK_ENTRY`)."""
    label = " ".join(text.lower().split())
    fade_out = bool(_FADE_OUT.search(label))
    rest = _FADE_OUT.sub(" ", label)
    entry = next(
        (kind for pattern, kind in _ENTRY_PATTERNS if pattern.search(rest)), FALLBACK_ENTRY
    )
    direction_match = _DIRECTION.search(rest)
    direction: Direction = "left"
    if direction_match is not None:
        direction = direction_match.group(1)  # type: ignore[assignment]
    return Transition(
        entry=entry,
        direction=direction,
        fade_out=fade_out,
        fast_cuts=bool(_FAST_CUTS.search(label)),
    )
