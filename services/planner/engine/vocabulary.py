"""The shot types and transitions a storyboard may name, and the synonyms that map onto them.

Canonical names are human-readable, as the seed shows them ("Wide", "Fade in"), because the review
UI displays them verbatim. A transition says how a scene is joined to the next one, except that
"Fade in" opens from black (natural for the first scene) and "Fade out" ends on black (the last);
"Fast cuts" means quick cutting inside the scene, then a cut.
"""

from __future__ import annotations

import re

SHOT_TYPES: tuple[str, ...] = (
    "Wide",
    "Medium",
    "Close-up",
    "Extreme close-up",
    "Montage",
    "Product feature",
    "Overhead",
    "Tracking",
    "Point of view",
)

TRANSITIONS: tuple[str, ...] = ("Cut", "Fade in", "Fade out", "Crossfade", "Wipe", "Fast cuts")

# Keys are normalised (see `_key`): lower case, single spaces, no trailing "shot"/"transition".
_SHOT_SYNONYMS: dict[str, str] = {
    "wide angle": "Wide",
    "establishing": "Wide",
    "long": "Wide",
    "full": "Wide",
    "extreme wide": "Wide",
    "ws": "Wide",
    "mid": "Medium",
    "medium wide": "Medium",
    "medium close up": "Medium",
    "ms": "Medium",
    "closeup": "Close-up",
    "close": "Close-up",
    "cu": "Close-up",
    "detail": "Close-up",
    "extreme closeup": "Extreme close-up",
    "ecu": "Extreme close-up",
    "xcu": "Extreme close-up",
    "macro": "Extreme close-up",
    "product": "Product feature",
    "product close up": "Product feature",
    "hero": "Product feature",
    "packshot": "Product feature",
    "pack": "Product feature",
    "top down": "Overhead",
    "birds eye": "Overhead",
    "bird s eye": "Overhead",
    "flat lay": "Overhead",
    "aerial": "Overhead",
    "dolly": "Tracking",
    "follow": "Tracking",
    "steadicam": "Tracking",
    "pov": "Point of view",
    "first person": "Point of view",
}

_TRANSITION_SYNONYMS: dict[str, str] = {
    "hard cut": "Cut",
    "straight cut": "Cut",
    "jump cut": "Cut",
    "match cut": "Cut",
    "smash cut": "Cut",
    "none": "Cut",
    "fade from black": "Fade in",
    "fade up": "Fade in",
    "fade to black": "Fade out",
    "fade to white": "Fade out",
    "fade": "Crossfade",
    "cross fade": "Crossfade",
    "dissolve": "Crossfade",
    "cross dissolve": "Crossfade",
    "mix": "Crossfade",
    "slide": "Wipe",
    "push": "Wipe",
    "quick cuts": "Fast cuts",
    "rapid cuts": "Fast cuts",
    "fast cut": "Fast cuts",
    "montage cuts": "Fast cuts",
}


def _key(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    while len(words) > 1 and words[-1] in {"shot", "shots", "transition"}:
        words.pop()
    return " ".join(words)


def _table(canonical: tuple[str, ...], synonyms: dict[str, str]) -> dict[str, str]:
    table = {_key(name): name for name in canonical}
    table.update(synonyms)
    return table


_SHOTS = _table(SHOT_TYPES, _SHOT_SYNONYMS)
_TRANSITIONS = _table(TRANSITIONS, _TRANSITION_SYNONYMS)


def canonical_shot_type(text: str) -> str | None:
    """The canonical shot type `text` names ("close up shot" -> "Close-up"), or None."""
    return _SHOTS.get(_key(text))


def canonical_transition(text: str) -> str | None:
    """The canonical transition `text` names ("fade-in" -> "Fade in"), or None."""
    return _TRANSITIONS.get(_key(text))
