"""The built-in planner: a deterministic storyboard heuristic that needs no network.

Same inputs, same storyboard. Scene count and durations follow the target length (6–15 s: 3 scenes,
–30: 4, –45: 5, –75: 6, longer: 7; weighted like the seed's 6/8/10/6 s example). Scenes play roles
— hook, audience, message, feature, detail, lifestyle, call to action — whose scripts carry the
product, audience, key message and CTA, and whose descriptions carry the style, tone, visual
elements and the assets shown; a script never has more words than its scene can speak
(`budget.py`). Videos go to motion scenes, product images (named after the product or "product",
"hero", "packshot", …; else the first image) to close-ups and the CTA; every image and video
appears at least once; audio never does. The brief's tone sets the transitions (energetic: cuts,
calm: fades). `variant` picks other phrasings, shots, asset order and scene order; feedback steers
as `feedback.py` documents.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from adpipe.domain.storyboard import MAX_TOTAL_SECONDS, MIN_TOTAL_SECONDS
from adpipe.events.scene import Scene

from . import budget, durations, wording
from .brief import Brief, PlannerAsset
from .feedback import Energy, ScriptLength, Steer, energy_of, steer, words
from .wording import Role, Words

_MIDDLES: dict[int, tuple[Role, ...]] = {
    3: ("message",),
    4: ("message", "feature"),
    5: ("audience", "message", "feature"),
    6: ("audience", "message", "feature", "detail"),
    7: ("audience", "message", "feature", "detail", "lifestyle"),
}
_WEIGHTS: dict[Role, float] = {
    "hook": 6,
    "audience": 7,
    "message": 8,
    "feature": 10,
    "detail": 8,
    "lifestyle": 7,
    "cta": 6,
}
_SHOTS: dict[Role, tuple[str, ...]] = {
    "hook": ("Wide", "Tracking", "Overhead"),
    "audience": ("Medium", "Point of view", "Tracking"),
    "message": ("Close-up", "Medium", "Extreme close-up"),
    "feature": ("Montage", "Product feature", "Tracking"),
    "detail": ("Extreme close-up", "Close-up", "Overhead"),
    "lifestyle": ("Medium", "Wide", "Tracking"),
    "cta": ("Product feature", "Close-up"),
}
_PRODUCT_ROLES = frozenset({"message", "detail", "cta"})
_PRODUCT_NAME_WORDS = frozenset("product hero pack packshot logo bottle box item".split())
_FRAMING = {"9:16": "Framed for vertical 9:16 viewing.", "1:1": "Framed for a square 1:1 feed."}
_MAX_NAME_CHARS = 60
# Variants are tried in turn until the result differs from what the reviewer already saw.
_MAX_TRIES = 8


def roles_for(count: int, variant: int = 0) -> list[Role]:
    """Hook first, call to action last; odd variants swap the first two middle roles, and every
    other pair of variants the third and fourth."""
    middle = list(_MIDDLES[count])
    if variant % 2 == 1 and len(middle) >= 2:
        middle[0], middle[1] = middle[1], middle[0]
    if (variant // 2) % 2 == 1 and len(middle) >= 4:
        middle[2], middle[3] = middle[3], middle[2]
    return ["hook", *middle, "cta"]


def _is_product(asset: PlannerAsset, product: str) -> bool:
    name = words(asset.name)
    return bool(name & _PRODUCT_NAME_WORDS or name & {w for w in words(product) if len(w) >= 3})


def _label(asset: PlannerAsset) -> str:
    name = " ".join(asset.name.split())[:_MAX_NAME_CHARS] or f"{asset.type} {asset.id[:8]}"
    return f"{name} ({asset.type})"


class _Library:
    """The job's visual assets sorted by what they are good for."""

    def __init__(self, assets: Sequence[PlannerAsset], product: str) -> None:
        self.visual = [a for a in assets if a.type != "audio"]
        videos = [a for a in self.visual if a.type == "video"]
        images = [a for a in self.visual if a.type == "image"]
        self.product = [a for a in images if _is_product(a, product)] or images[:1]
        scenery = [a for a in images if a not in self.product]
        self.by_role: dict[Role, tuple[list[PlannerAsset], ...]] = {
            "feature": (videos, self.product, scenery),
            **{r: (self.product, scenery, videos) for r in _PRODUCT_ROLES},
            **{r: (videos, scenery, self.product) for r in ("hook", "audience", "lifestyle")},
        }

    def pick(self, role: Role, uses: Counter[str], variant: int) -> PlannerAsset | None:
        """The least-used asset of the first kind the role likes that the job has."""
        for group in self.by_role[role]:
            if group:
                turn = variant % len(group)
                return min(group[turn:] + group[:turn], key=lambda a: uses[a.id])
        return None


def _allocate(
    roles: list[Role], library: _Library, variant: int, more_product: bool
) -> list[list[PlannerAsset]]:
    uses: Counter[str] = Counter()
    chosen: list[list[PlannerAsset]] = []
    for role in roles:
        asset = library.pick(role, uses, variant)
        chosen.append([asset] if asset else [])
        if asset:
            uses[asset.id] += 1
    # Assets no scene took join the scenes holding fewest, the montage first and the CTA last.
    penalty = {"feature": 0, "cta": 2}
    for asset in library.visual:
        if not uses[asset.id]:
            at = min(
                range(len(roles)), key=lambda i: (len(chosen[i]) + penalty.get(roles[i], 1), i)
            )
            chosen[at].append(asset)
            uses[asset.id] += 1
    if more_product and library.product:
        hero = library.product[0]
        for scene_assets in chosen:
            if not any(a in library.product for a in scene_assets):
                scene_assets.append(hero)
    return chosen


def _shot(role: Role, pick: int, *, brief: Brief, assets: list[PlannerAsset], ask: Steer) -> str:
    if ask.shot and role != "cta":
        return ask.shot
    if ask.more_product and role in _PRODUCT_ROLES:
        return "Product feature"
    options = list(_SHOTS[role])
    # A montage of one still is just a still.
    if len(assets) < 2 and not any(a.type == "video" for a in assets) and assets:
        options = [o for o in options if o != "Montage"]
    shot = options[pick % len(options)]
    if shot == "Wide" and brief.aspect_ratio == "9:16":
        return "Medium"  # a tall frame cannot hold a wide shot
    return shot


def _transition(index: int, count: int, shot: str, energy: Energy, pick: int) -> str:
    if index == count - 1:
        return "Fade out"
    if index == 0:
        return "Cut" if energy == "energetic" else "Fade in"
    if shot == "Montage" and energy != "calm":
        return "Fast cuts"
    match energy:
        case "energetic":
            return ("Cut", "Wipe", "Cut")[(index + pick) % 3]
        case "calm":
            return "Crossfade"
        case _:
            return ("Cut", "Crossfade")[(index + pick) % 2]


def _energy(brief: Brief, ask: Steer) -> Energy:
    return ask.energy or energy_of(f"{brief.style} {brief.tone}") or "balanced"


def _script_length(ask: Steer) -> ScriptLength:
    if ask.script_length != "normal":
        return ask.script_length
    # A storyboard's total is fixed, so "shorter"/"longer" can only mean its lines.
    change = (ask.seconds_delta or 0.0) + (ask.factor - 1.0)
    return "short" if change < 0 else "long" if change > 0 else "normal"


def _scene(
    number: int,
    count: int,
    role: Role,
    duration: float,
    assets: list[PlannerAsset],
    *,
    brief: Brief,
    text: Words,
    ask: Steer,
    energy: Energy,
    length: ScriptLength,
    pick: int,
) -> Scene:
    index = number - 1
    shot = _shot(role, pick, brief=brief, assets=assets, ask=ask)
    element = text.elements[(index + pick) % len(text.elements)] if text.elements else None
    return Scene(
        scene_number=number,
        duration=duration,
        description=wording.description(
            role,
            shot,
            text,
            asset_names=[_label(a) for a in assets],
            element=element,
            energy=energy,
            framing=_FRAMING.get(brief.aspect_ratio) if index == 0 else None,
            pick=pick + index,
        ),
        # Spoken as voiceover, so never more words than the scene can hold.
        script=budget.trim(
            wording.script(role, text, length=length, energy=energy, pick=pick), duration
        ),
        shot_type=shot,
        transition=_transition(index, count, shot, energy, pick),
        assets=[a.id for a in assets],
    )


def _compose(brief: Brief, assets: Sequence[PlannerAsset], ask: Steer, variant: int) -> list[Scene]:
    total = brief.duration_seconds
    pace = {"energetic": 1, "calm": -1}.get(ask.energy or "", 0)
    count = durations.clamp_count(durations.scene_count(total) + ask.scene_delta + pace, total)
    roles = roles_for(count, variant)
    seconds = durations.split(total, [_WEIGHTS[r] for r in roles])
    allocation = _allocate(roles, _Library(assets, brief.product), variant, ask.more_product)
    text, energy, length = Words.of(brief), _energy(brief, ask), _script_length(ask)
    return [
        _scene(
            i,
            count,
            role,
            seconds[i - 1],
            allocation[i - 1],
            brief=brief,
            text=text,
            ask=ask,
            energy=energy,
            length=length,
            pick=variant,
        )
        for i, role in enumerate(roles, start=1)
    ]


def storyboard(
    brief: Brief,
    assets: Sequence[PlannerAsset],
    *,
    feedback: str | None = None,
    previous: Sequence[Scene] | None = None,
    variant: int = 0,
) -> list[Scene]:
    """A storyboard for the brief; with `previous`, one that differs from it."""
    ask = steer(feedback)
    scenes = _compose(brief, assets, ask, variant)
    for attempt in range(1, _MAX_TRIES):
        if previous is None or scenes != list(previous):
            break
        scenes = _compose(brief, assets, ask, variant + attempt)
    return scenes


def _new_duration(old: float, ask: Steer, others: float) -> float:
    if ask.seconds is None and not ask.seconds_delta and ask.factor == 1.0:
        return old
    seconds = ask.seconds if ask.seconds is not None else old
    seconds = (seconds + ask.seconds_delta) * ask.factor
    # The whole ad must stay 6–120 s long, and no scene may drop below the planners' floor.
    # Bounds are rounded inwards to 0.1 s, so rounding the result cannot step outside them.
    low = math.ceil(max(durations.MIN_SCENE_SECONDS, MIN_TOTAL_SECONDS - others) * 10 - 1e-6) / 10
    high = max(low, math.floor((MAX_TOTAL_SECONDS - others) * 10 + 1e-6) / 10)
    return min(max(round(seconds, 1), low), high)


def scene(
    brief: Brief,
    assets: Sequence[PlannerAsset],
    scenes: Sequence[Scene],
    number: int,
    *,
    feedback: str | None,
    variant: int,
) -> Scene:
    """A new scene `number` that fits the storyboard and reads differently from the old one.

    It keeps its place's role, its duration (unless the feedback asks for another length) and its
    assets (the product image joins on "more product"; a scene without assets gets one).
    """
    old, count = scenes[number - 1], len(scenes)
    ask = steer(feedback)
    role = roles_for(count)[number - 1]
    library = _Library(assets, brief.product)
    visual = {a.id: a for a in library.visual}
    kept = [visual[a] for a in old.assets if a in visual]
    if not kept and library.visual:
        uses = Counter(a for s in scenes if s.scene_number != number for a in s.assets)
        kept = [a for a in [library.pick(role, uses, variant)] if a]
    if ask.more_product and library.product and not set(kept) & set(library.product):
        kept.append(library.product[0])
    others = round(sum(s.duration for s in scenes if s.scene_number != number), 3)
    duration = _new_duration(old.duration, ask, others)
    text, energy = Words.of(brief), _energy(brief, ask)
    length: ScriptLength = ask.script_length
    candidate = old
    for attempt in range(_MAX_TRIES):
        candidate = _scene(
            number,
            count,
            role,
            duration,
            kept,
            brief=brief,
            text=text,
            ask=ask,
            energy=energy,
            length=length,
            pick=variant + 1 + attempt,
        )
        if (candidate.description, candidate.script) != (old.description, old.script):
            break
    return candidate
