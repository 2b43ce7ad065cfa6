"""The built-in planner's words: script and description templates per scene role, filled from the
brief. Every role has at least two phrasings so that variants always read differently."""

from __future__ import annotations

import re

import msgspec

from .brief import Brief
from .feedback import Energy, ScriptLength

Role = str  # "hook" | "audience" | "message" | "feature" | "detail" | "lifestyle" | "cta"

# Brief fields are free text; long ones are cut at a word so scenes stay card-sized.
_MAX_FIELD_CHARS = 160


def _mid_sentence(text: str) -> str:
    """ "Energetic and inspiring" reads as "energetic and inspiring" inside a sentence; acronyms
    and single letters keep their case."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _clean(text: str, fallback: str) -> str:
    text = " ".join(text.split()).rstrip(" .!?;:,")
    if len(text) > _MAX_FIELD_CHARS:
        text = text[:_MAX_FIELD_CHARS].rsplit(" ", 1)[0].rstrip(" .!?;:,") + "…"
    return text or fallback


class Words(msgspec.Struct, frozen=True, kw_only=True):
    """The brief's free text, trimmed and with a fallback for anything left empty."""

    product: str
    audience: str
    message: str
    cta: str
    style: str
    tone: str
    elements: list[str]

    @classmethod
    def of(cls, brief: Brief) -> Words:
        product = _clean(brief.product, "our product")
        return cls(
            product=product,
            audience=_clean(brief.target_audience, "everyone"),
            message=_clean(brief.key_message, f"{product} is worth a closer look"),
            cta=_clean(brief.call_to_action, "Learn more"),
            style=_clean(brief.style, "clean"),
            tone=_mid_sentence(_clean(brief.tone, "")),
            elements=[
                _mid_sentence(e) for e in (_clean(v, "") for v in brief.visual_elements) if e
            ],
        )


_SCRIPTS: dict[Role, dict[ScriptLength, tuple[str, ...]]] = {
    "hook": {
        "short": ("For {audience}.", "Meet {product}."),
        "normal": (
            "Made for {audience}.",
            "{audience}, this one is for you.",
            "Life moves fast. {product} keeps up.",
        ),
        "long": (
            "Made for {audience}, who never stop moving. Here is what {product} brings.",
            "{audience}, this one is for you: a closer look at {product}.",
        ),
    },
    "audience": {
        "short": ("Every moment counts.", "You know what you need."),
        "normal": ("Every day asks a lot of {audience}.", "For {audience}, every moment counts."),
        "long": (
            "Every day asks a lot of {audience}, and the right tools make the difference.",
            "For {audience}, every moment counts, so nothing should slow you down.",
        ),
    },
    "message": {
        "short": ("{message}.", "{message}, with {product}."),
        "normal": ("{message}.", "{product}: {message}."),
        "long": (
            "{message}. That is the promise of {product}.",
            "{product}: {message}. Nothing less.",
        ),
    },
    "feature": {
        "short": ("All in {product}.", "Made to perform."),
        "normal": ("Everything you need, in {product}.", "{product}, built around one idea."),
        "long": (
            "Everything you need, in {product}, and ready whenever you are.",
            "{product}, built around one idea and made to deliver it every day.",
        ),
    },
    "detail": {
        "short": ("Look closer.", "Every detail counts."),
        "normal": ("Look closer at {product}.", "Every detail of {product} is made to matter."),
        "long": (
            "Look closer at {product}: every detail is there for a reason.",
            "Every detail of {product} is made to matter, down to the last one.",
        ),
    },
    "lifestyle": {
        "short": ("Wherever you go.", "Part of your day."),
        "normal": (
            "{product} fits right into your life.",
            "Wherever the day takes you, {product} comes along.",
        ),
        "long": (
            "{product} fits right into your life, from the first call to the last light.",
            "Wherever the day takes you, {product} comes along, ready when you are.",
        ),
    },
    "cta": {
        "short": ("{cta}{end}", "{product}. {cta}{end}"),
        "normal": ("{cta}{end}", "{product}. {cta}{end}", "Ready for {product}? {cta}{end}"),
        "long": ("{product}: {message}. {cta}{end}", "Ready for {product}? {cta}{end}"),
    },
}

_SUBJECTS: dict[Role, tuple[str, ...]] = {
    "hook": (
        "{audience} in the middle of their day",
        "an everyday moment in the world of {audience}",
        "the opening beat, setting up {product} for {audience}",
    ),
    "audience": (
        "a day in the life of {audience}",
        "{audience} in the moment {product} is made for",
    ),
    "message": (
        '{product}, framed to carry the message "{message}"',
        '{product} up close as the message "{message}" lands',
    ),
    "feature": (
        "{product} in use, one feature after another",
        "the ways {product} fits into real life",
    ),
    "detail": ("the details that set {product} apart", "the finish and craft of {product}"),
    "lifestyle": (
        "{audience} with {product} in their everyday life",
        "{product} as part of an ordinary, good day",
    ),
    "cta": (
        '{product} with the call to action "{cta}" on screen',
        '{product} beside the words "{cta}" and the brand',
    ),
}

_SHOT_PHRASES: dict[str, str] = {
    "Wide": "Wide shot of",
    "Medium": "Medium shot of",
    "Close-up": "Close-up of",
    "Extreme close-up": "Extreme close-up of",
    "Montage": "Montage of",
    "Product feature": "Product feature shot of",
    "Overhead": "Overhead shot of",
    "Tracking": "Tracking shot following",
    "Point of view": "Point-of-view shot of",
}

_MOODS: dict[Energy, str] = {
    "energetic": "quick, energetic pacing",
    "calm": "slow, calm pacing",
    "balanced": "steady pacing",
}


def _fill(template: str, words: Words, energy: Energy) -> str:
    text = template.format(
        product=words.product,
        audience=words.audience,
        message=words.message,
        cta=words.cta,
        end="!" if energy == "energetic" else ".",
    )
    return re.sub(r"\s+", " ", text).strip()


def phrasings(role: Role, length: ScriptLength) -> int:
    return len(_SCRIPTS[role][length])


def script(role: Role, words: Words, *, length: ScriptLength, energy: Energy, pick: int) -> str:
    options = _SCRIPTS[role][length]
    text = _fill(options[pick % len(options)], words, energy)
    return text[:1].upper() + text[1:]


def description(
    role: Role,
    shot: str,
    words: Words,
    *,
    asset_names: list[str],
    element: str | None,
    energy: Energy,
    framing: str | None,
    pick: int,
) -> str:
    """ "<Shot> <subject>, using <assets>, featuring <element>. <Style> look, <tone>; <pace>."""
    subjects = _SUBJECTS[role]
    parts = [f"{_SHOT_PHRASES[shot]} {_fill(subjects[pick % len(subjects)], words, energy)}"]
    if asset_names:
        parts.append(f", using {_join(asset_names)}")
    else:
        parts.append(", as a bold typographic card on brand colours")
    if element:
        parts.append(f", featuring {element}")
    tone = f", {words.tone} tone" if words.tone else ""
    parts.append(f". {words.style[:1].upper() + words.style[1:]} look{tone}; {_MOODS[energy]}.")
    if framing:
        parts.append(f" {framing}")
    return "".join(parts)


def _join(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
