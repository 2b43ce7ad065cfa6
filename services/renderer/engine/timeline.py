"""Lay the storyboard out on the frame grid: where each scene starts, overlaps, fades and cuts.
Pure arithmetic. Transitions live inside the scenes' time, so the total is the sum of durations."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import msgspec

from adpipe.events.scene import Scene

from .transitions import Direction, Entry, parse_transition

# Transition lengths in seconds, each capped by the scenes around it (see `plan_timeline`).
FADE_IN_SECONDS = 0.8
FADE_OUT_SECONDS = 1.0
OVERLAP_SECONDS: dict[Entry, float] = {"crossfade": 0.6, "wipe": 0.5, "slide": 0.5}
DIP_SECONDS = 0.8
# Montage pacing: "fast cuts" switch assets about every second, a "montage" shot every two.
FAST_CUT_SECONDS = 1.0
MONTAGE_CUT_SECONDS = 2.0


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    """Frames [start, end) of a slot show visual asset `asset` (an index into `Slot.visuals`)."""

    start: int
    end: int
    asset: int


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    """One scene on the frame grid. Nominal frames are [start, end); the scene is on screen over
    [show_from, show_until), which adds the halves of the overlapping transitions around it."""

    index: int
    scene: Scene
    visuals: tuple[str, ...]
    start: int
    end: int
    show_from: int
    show_until: int
    enter_until: int  # this slot blends over the previous one during [show_from, enter_until)
    entry: Entry
    direction: Direction
    fade_in: int
    fade_out: int
    segments: tuple[Segment, ...]

    def segment_at(self, frame: int) -> Segment:
        for segment in self.segments:
            if frame < segment.end:
                return segment
        return self.segments[-1]

    def frames_of(self, asset: int) -> int:
        return sum(s.end - s.start for s in self.segments if s.asset == asset)

    def brightness(self, frame: int) -> float:
        """1.0 normally; ramps from black over the fade in and to black over the fade out."""
        level = 1.0
        if self.fade_in and frame < self.start + self.fade_in:
            level = max(0.0, (frame - self.start) / self.fade_in)
        if frame >= self.end:
            return 0.0 if self.fade_out else level
        if self.fade_out and frame >= self.end - self.fade_out:
            level = min(level, (self.end - 1 - frame) / self.fade_out)
        return level


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    slots: tuple[Slot, ...]
    total_frames: int
    fps: int

    def visible(self, frame: int) -> list[Slot]:
        """The one or two slots on screen at `frame`, earlier scene first."""
        return [s for s in self.slots if s.show_from <= frame < s.show_until]


def plan_timeline(scenes: Sequence[Scene], visual_ids: Collection[str], fps: int) -> Timeline:
    """Place `scenes` on a grid of `fps`; only ids in `visual_ids` are drawn (audio is not)."""
    bounds = [0]
    elapsed = 0.0
    for scene in scenes:
        elapsed += scene.duration
        bounds.append(round(elapsed * fps))
    lengths = [bounds[k + 1] - bounds[k] for k in range(len(scenes))]
    transitions = [parse_transition(s.transition) for s in scenes]

    entries: list[Entry] = []
    overlaps: list[int] = []  # frames shared with the previous scene
    fade_ins: list[int] = []
    fade_outs = [round(FADE_OUT_SECONDS * fps) if t.fade_out else 0 for t in transitions]
    for k, transition in enumerate(transitions):
        entry = transition.entry
        if k == 0 and entry != "cut":
            entry = "fade_in"  # nothing to blend from yet: every soft entry starts from black
        overlap = 0
        fade_in = 0
        if entry == "fade_in":
            fade_in = round(FADE_IN_SECONDS * fps)
        elif entry == "dip":
            dip = min(round(DIP_SECONDS * fps), lengths[k - 1] // 2, lengths[k] // 2)
            fade_outs[k - 1] = max(fade_outs[k - 1], dip // 2)
            fade_in = dip - dip // 2
        elif entry in OVERLAP_SECONDS:
            # Capping each overlap at half the shorter neighbour keeps a scene's entry and exit
            # windows apart, so at most two scenes are ever on screen at once.
            overlap = min(round(OVERLAP_SECONDS[entry] * fps), lengths[k - 1] // 2, lengths[k] // 2)
            if overlap < 2:
                entry, overlap = "cut", 0
        entries.append(entry)
        overlaps.append(overlap)
        fade_ins.append(min(fade_in, lengths[k] // 3) if fade_in else 0)
    fade_outs = [
        min(f, max(1, n // 3)) if f else 0 for f, n in zip(fade_outs, lengths, strict=True)
    ]

    slots = []
    for k, scene in enumerate(scenes):
        start, end = bounds[k], bounds[k + 1]
        before = overlaps[k] // 2
        after = overlaps[k + 1] - overlaps[k + 1] // 2 if k + 1 < len(scenes) else 0
        visuals = tuple(a for a in scene.assets if a in visual_ids)
        slots.append(
            Slot(
                index=k,
                scene=scene,
                visuals=visuals,
                start=start,
                end=end,
                show_from=start - before,
                show_until=end + after,
                enter_until=start + overlaps[k] - before,
                entry=entries[k],
                direction=transitions[k].direction,
                fade_in=fade_ins[k],
                fade_out=fade_outs[k],
                segments=_segments(
                    scene,
                    transitions[k].fast_cuts,
                    len(visuals),
                    start,
                    end,
                    start - before,
                    end + after,
                    fps,
                ),
            )
        )
    return Timeline(slots=tuple(slots), total_frames=bounds[-1], fps=fps)


def _segments(
    scene: Scene,
    fast_cuts: bool,
    count: int,
    start: int,
    end: int,
    show_from: int,
    show_until: int,
    fps: int,
) -> tuple[Segment, ...]:
    """Split a scene among its visual assets; the first and last cut stretch over the overlaps."""
    if count <= 1:
        return (Segment(start=show_from, end=show_until, asset=0 if count else -1),)
    seconds = (end - start) / fps
    if fast_cuts:
        cuts = max(count, round(seconds / FAST_CUT_SECONDS))
    elif "montage" in scene.shot_type.lower():
        cuts = max(count, round(seconds / MONTAGE_CUT_SECONDS))
    else:
        cuts = count
    edges = [start + round(j * (end - start) / cuts) for j in range(cuts + 1)]
    edges[0], edges[-1] = show_from, show_until
    return tuple(
        Segment(start=edges[j], end=edges[j + 1], asset=j % count)
        for j in range(cuts)
        if edges[j + 1] > edges[j]
    )
