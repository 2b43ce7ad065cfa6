"""Reading a reviewer's feedback: the words the built-in planner acts on, and whether a scene's
new length was asked for (the only case in which a regenerated scene may change duration).

The built-in planner understands (case-insensitive, anywhere in the text):
- pace: "energetic", "dynamic", "faster", "punchy", "exciting", … => energetic (one more scene,
  hard cuts); "calm", "slower", "relaxed", "elegant", "soft", … => calm (one fewer scene, fades);
- "more scenes" / "fewer scenes" => one scene more / fewer (always 3–7, at least 2 s each);
- script length: "concise", "less text", "tighter", "shorter lines" => short lines; "more detail",
  "more text" => longer lines; for a whole storyboard, whose total is fixed, a bare "shorter" /
  "longer" means the same;
- shots: "close-up", "closer", "macro", "wide", "overhead", "montage", "tracking", "pov", …;
- "more product", "show the product", "focus on the product", "product shot" => the product image
  in every scene and product-feature shots;
- a scene's length: "10 seconds", "3 s longer", "shorter by 2 sec", or a bare "longer" (x1.5) /
  "shorter" (x2/3).
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

Energy = Literal["energetic", "calm", "balanced"]
ScriptLength = Literal["short", "normal", "long"]

_ENERGETIC = frozenset(
    "energetic energy dynamic exciting excited bold upbeat fast faster punchy punchier playful fun "
    "vibrant lively intense powerful sporty edgy snappy snappier quick quicker urgent hype "
    "action adrenaline".split()
)
_CALM = frozenset(
    "calm calmer serene elegant luxurious luxury gentle soft softer relaxed relaxing warm minimal "
    "minimalist sophisticated peaceful soothing slow slower tranquil refined classic emotional "
    "heartfelt quiet subtle".split()
)

# Checked in order: the first shot a text names wins ("extreme close" before "close").
_SHOT_WORDS: tuple[tuple[str, str], ...] = (
    ("Extreme close-up", r"extreme close|macro"),
    ("Close-up", r"close[- ]?ups?|closer"),
    ("Product feature", r"product (?:shot|feature)|packshot"),
    ("Overhead", r"overhead|top[- ]down|bird'?s[- ]eye|flat[- ]lay"),
    ("Montage", r"montage"),
    ("Tracking", r"tracking|following shot"),
    ("Point of view", r"\bpov\b|point[- ]of[- ]view"),
    ("Wide", r"\bwide\b|wider|establishing"),
    ("Medium", r"\bmedium\b"),
)

_SECONDS = r"(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)\b"
_RELATIVE_AFTER = re.compile(_SECONDS + r"\s+(longer|shorter|more|less)")
_RELATIVE_BEFORE = re.compile(
    r"(longer|shorter|extend|lengthen|shorten|trim|cut)\s+(?:it\s+)?(?:by\s+)?" + _SECONDS
)
_ABSOLUTE = re.compile(_SECONDS)
_ASKS_DURATION = re.compile(
    r"\b(?:duration|length|longer|shorter|lengthen|shorten|extend|trim|seconds?|secs?)\b|"
    r"\d\s*s\b"
)


class Steer(msgspec.Struct, frozen=True, kw_only=True):
    """What the feedback asks of the built-in planner; the defaults ask for nothing."""

    energy: Energy | None = None
    scene_delta: int = 0
    script_length: ScriptLength = "normal"
    shot: str | None = None
    more_product: bool = False
    # For one scene: an absolute length, a change in seconds, or a factor (applied in that order).
    seconds: float | None = None
    seconds_delta: float = 0.0
    factor: float = 1.0


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def energy_of(text: str) -> Energy | None:
    found = words(text)
    energetic, calm = len(found & _ENERGETIC), len(found & _CALM)
    if energetic > calm:
        return "energetic"
    if calm > energetic:
        return "calm"
    return None


def asks_for_duration(feedback: str | None) -> bool:
    """Whether the feedback talks about the scene's length at all."""
    return bool(feedback and _ASKS_DURATION.search(feedback.lower()))


def shot_named(text: str) -> str | None:
    lowered = text.lower()
    for shot, pattern in _SHOT_WORDS:
        if re.search(pattern, lowered):
            return shot
    return None


def _length(lowered: str) -> tuple[float | None, float, float]:
    if match := _RELATIVE_AFTER.search(lowered):
        sign = 1.0 if match.group(2) in {"longer", "more"} else -1.0
        return None, sign * float(match.group(1)), 1.0
    if match := _RELATIVE_BEFORE.search(lowered):
        sign = 1.0 if match.group(1) in {"longer", "extend", "lengthen"} else -1.0
        return None, sign * float(match.group(2)), 1.0
    if match := _ABSOLUTE.search(lowered):
        return float(match.group(1)), 0.0, 1.0
    found = words(lowered)
    if "longer" in found:
        return None, 0.0, 1.5
    if "shorter" in found:
        return None, 0.0, 2 / 3
    return None, 0.0, 1.0


def steer(feedback: str | None) -> Steer:
    if not feedback or not feedback.strip():
        return Steer()
    lowered = feedback.lower()
    found = words(lowered)
    delta = 0
    if re.search(r"more scenes", lowered):
        delta = 1
    elif re.search(r"(fewer|less) scenes", lowered):
        delta = -1
    script: ScriptLength = "normal"
    if found & {"concise", "tighter", "brief"} or re.search(
        r"less (text|words)|fewer words|shorter (lines|script|text)", lowered
    ):
        script = "short"
    elif re.search(r"more (detail|text|words)|longer (lines|script|text)", lowered):
        script = "long"
    seconds, seconds_delta, factor = _length(lowered)
    return Steer(
        energy=energy_of(lowered),
        scene_delta=delta,
        script_length=script,
        shot=shot_named(lowered),
        more_product=bool(
            re.search(r"(more|show|focus on|feature|highlight)\s+(the\s+|our\s+)?product", lowered)
            or re.search(r"product (shot|feature|focus)", lowered)
        ),
        seconds=seconds,
        seconds_delta=seconds_delta,
        factor=factor,
    )
