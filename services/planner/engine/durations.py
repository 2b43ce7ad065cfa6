"""Scene timing: how many scenes an ad of a given length gets, and splitting a total into scene
durations rounded to 0.1 s that add up to it exactly."""

from __future__ import annotations

from collections.abc import Sequence

from adpipe.domain.storyboard import MAX_SCENES, MIN_SCENES

# The planners' own floor, above the domain's: a one-second scene is the shortest that still reads.
MIN_SCENE_SECONDS = 1.0

# (longest ad, scene count): about 5–10 s per scene, the pace of the seed's 30 s / 4-scene example.
_SCENE_COUNTS: tuple[tuple[float, int], ...] = ((15.0, 3), (30.0, 4), (45.0, 5), (75.0, 6))


def scene_count(total: float) -> int:
    for longest, count in _SCENE_COUNTS:
        if total <= longest:
            return count
    return MAX_SCENES


def clamp_count(count: int, total: float) -> int:
    """`count` within 3–7 and short enough that every scene gets at least two seconds."""
    fits = max(MIN_SCENES, int(total // 2.0))
    return max(MIN_SCENES, min(MAX_SCENES, fits, count))


def split(total: float, weights: Sequence[float], *, floor: float = 0.0) -> list[float]:
    """Durations proportional to `weights` above a common `floor`, on 0.1 s boundaries.

    Rounding the running total (not each scene) keeps every scene within 0.1 s of its share and
    at or above the floor; the last scene absorbs what is left, so the sum is the total exactly
    (to the millisecond).
    """
    assert weights and all(w > 0 for w in weights), weights
    spare = total - floor * len(weights)
    assert spare >= -1e-9, (total, floor, len(weights))
    weight_sum = sum(weights)
    durations: list[float] = []
    running_weight = 0.0
    previous_boundary = 0.0
    for index, weight in enumerate(weights[:-1], start=1):
        running_weight += weight
        boundary = round(floor * index + spare * running_weight / weight_sum, 1)
        durations.append(round(boundary - previous_boundary, 1))
        previous_boundary = boundary
    durations.append(round(total - previous_boundary, 3))
    return durations
