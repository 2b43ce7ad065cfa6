"""Ken Burns paths: which window of a pre-scaled still each frame shows. Pure geometry.
Windows stay inside the still (no edge shows) and never get smaller than the frame (never soft)."""

from __future__ import annotations

import math
from typing import NamedTuple

import msgspec

ZOOM_HEADROOM = 1.15
ZOOM_PER_SECOND = 0.03  # gentle: a 6 s scene zooms at most 18%
PAN_PER_SECOND = 0.06  # of the frame width (or height) per second


class Keyframe(msgspec.Struct, frozen=True):
    zoom: float  # 1.0 shows the whole cover window, ZOOM_HEADROOM shows pixels 1:1
    x: float  # position of the window within the free space, 0 = left or top, 1 = right or bottom
    y: float


# (start, end) pairs; which one a still gets depends on its scene, its place in a montage and the
# shot type, so consecutive scenes move differently.
_PUSH_IN = (Keyframe(1.0, 0.5, 0.5), Keyframe(1.13, 0.65, 0.4))
_PULL_OUT = (Keyframe(1.13, 0.35, 0.35), Keyframe(1.0, 0.5, 0.5))
_PAN_RIGHT = (Keyframe(1.07, 0.0, 0.5), Keyframe(1.07, 1.0, 0.5))
_PUSH_IN_HIGH = (Keyframe(1.0, 0.5, 0.55), Keyframe(1.13, 0.35, 0.3))
_PAN_LEFT = (Keyframe(1.1, 1.0, 0.45), Keyframe(1.04, 0.0, 0.55))
_CLOSE_UP = (_PUSH_IN, _PUSH_IN_HIGH)
_WIDE = (_PULL_OUT, _PAN_RIGHT, _PAN_LEFT)
_ANY = (_PUSH_IN, _PAN_RIGHT, _PULL_OUT, _PUSH_IN_HIGH, _PAN_LEFT)


def choose_path(shot_type: str, variant: int) -> tuple[Keyframe, Keyframe]:
    shot = shot_type.lower()
    paths: tuple[tuple[Keyframe, Keyframe], ...]
    if "close" in shot or "detail" in shot or "product" in shot:
        paths = _CLOSE_UP
    elif "wide" in shot or "establish" in shot or "landscape" in shot:
        paths = _WIDE
    else:
        paths = _ANY
    return paths[variant % len(paths)]


class Crop(NamedTuple):
    """How to draw one Ken Burns frame with whole-pixel operations only: crop the still at
    (x, y, w, h), scale that to scaled_w x scaled_h, keep the frame at (off_x, off_y) of it.
    Values may be odd: chroma (half size) is then cut from the even position before, at most half
    a chroma sample off, which no one sees; luma, which people do see, stays exact."""

    x: int
    y: int
    w: int
    h: int
    scaled_w: int
    scaled_h: int
    off_x: int
    off_y: int


# A slightly oversized scale plus an offset lands a window on fractional source coordinates:
# searching this many extra output pixels gets within ~0.1 px of the exact path, where a plain
# whole-pixel crop would wobble by up to half a pixel from frame to frame.
SUBPIXEL_MARGIN = 16


class KenBurns:
    """One crop per frame of a `source` sized still; the exact path is fractional, the crops are
    the closest whole-pixel approximation (see `Crop`)."""

    def __init__(
        self,
        source: tuple[int, int],
        frame: tuple[int, int],
        path: tuple[Keyframe, Keyframe],
        frames: int,
        fps: int,
    ) -> None:
        self._source = source
        self._frame = frame
        self._frames = max(frames, 1)
        seconds = self._frames / fps
        start, end = path
        # Shorten the path about its middle until it is gentle enough for the time it has.
        zoom_span = abs(end.zoom - start.zoom)
        zoom_limit = ZOOM_PER_SECOND * seconds
        shrink = 1.0 if zoom_span <= zoom_limit else zoom_limit / zoom_span
        start_px, end_px = self._centre(start), self._centre(end)
        travel = max(
            abs(end_px[0] - start_px[0]) / frame[0], abs(end_px[1] - start_px[1]) / frame[1]
        )
        travel_limit = PAN_PER_SECOND * seconds
        if travel > travel_limit:
            shrink = min(shrink, travel_limit / travel)
        self._start, self._end = _towards_middle(start, end, shrink)
        self._start_centre, self._end_centre = self._centre(self._start), self._centre(self._end)

    def window(self, index: int) -> tuple[float, float, float, float]:
        """The exact window (x, y, w, h) in still pixels for frame `index`."""
        t = min(max(index / max(self._frames - 1, 1), 0.0), 1.0)
        # Geometric interpolation: equal steps in zoom look like equal speed.
        zoom = self._start.zoom * (self._end.zoom / self._start.zoom) ** t
        width, height = self._size(zoom)
        a, b = self._start_centre, self._end_centre
        cx, cy = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        x = min(max(cx - width / 2, 0.0), self._source[0] - width)
        y = min(max(cy - height / 2, 0.0), self._source[1] - height)
        return x, y, width, height

    def crop(self, index: int) -> Crop:
        x, y, w, h = self.window(index)
        cx, cw, sw, ox = _fit(x, w, self._frame[0], self._source[0])
        cy, ch, sh, oy = _fit(y, h, self._frame[1], self._source[1])
        return Crop(cx, cy, cw, ch, sw, sh, ox, oy)

    def _size(self, zoom: float) -> tuple[float, float]:
        scale = ZOOM_HEADROOM / max(zoom, 1.0)
        fw, fh = self._frame
        # Never smaller than the frame (no enlarging), never larger than the still (no edges).
        scale = max(1.0, min(scale, self._source[0] / fw, self._source[1] / fh))
        return fw * scale, fh * scale

    def _centre(self, key: Keyframe) -> tuple[float, float]:
        width, height = self._size(key.zoom)
        return (
            width / 2 + key.x * (self._source[0] - width),
            height / 2 + key.y * (self._source[1] - height),
        )


def _fit(start: float, length: float, out: int, limit: int) -> tuple[int, int, int, int]:
    """Per axis: crop [c, c + w) of the still, scaled to `size`, kept from offset `o`, whose
    mapping out pixel j -> c + (j + o) * w / size best matches j -> start + j * length / out.
    Returns (c, w, size, o), all even, with the crop inside [0, limit)."""
    ratio = length / out
    best = (math.inf, 0, 0, 0, 0)
    for size in range(out, out + SUBPIXEL_MARGIN + 1):
        w = min(limit, max(2, round(size * ratio)))
        step = w / size
        drift = (step - ratio) * out  # error added across the frame by the scale's rounding
        if abs(drift) >= best[0]:
            continue
        for o in range(size - out + 1):
            c = min(max(round(start - o * step), 0), limit - w)
            error = c + o * step - start
            worst = max(abs(error), abs(error + drift))
            if worst < best[0]:
                best = (worst, c, w, size, o)
    return best[1], best[2], best[3], best[4]


def _towards_middle(start: Keyframe, end: Keyframe, shrink: float) -> tuple[Keyframe, Keyframe]:
    if shrink >= 1.0:
        return start, end
    mid = Keyframe((start.zoom + end.zoom) / 2, (start.x + end.x) / 2, (start.y + end.y) / 2)

    def pull(key: Keyframe) -> Keyframe:
        return Keyframe(
            mid.zoom + (key.zoom - mid.zoom) * shrink,
            mid.x + (key.x - mid.x) * shrink,
            mid.y + (key.y - mid.y) * shrink,
        )

    return pull(start), pull(end)
