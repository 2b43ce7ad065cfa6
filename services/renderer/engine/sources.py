"""Picture sources: each yields the next frame-sized yuv420p picture of one asset, on demand,
and only while on screen, so a clip in a montage resumes where it left off."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple, Protocol

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from .assets import reading
from .motion import KenBurns
from .spec import RenderAsset, RenderFailed
from .yuv import frame_planes, new_frame

if TYPE_CHECKING:
    from collections.abc import Generator

    from .yuv import Planes

# Scaling runs in our compositing thread while x264 keeps both cores busy: swscale's own worker
# threads would only add hand-offs. Stills move through <=15% resizes, where bilinear looks like
# bicubic at two thirds of the cost; clips may shrink a lot (4K to 720p), where area averaging
# avoids aliasing at the same cost as bilinear (measured at 1080p -> 720p).
_SCALE_THREADS = 1
_STILL_INTERPOLATION = Interpolation.BILINEAR
_CLIP_INTERPOLATION = Interpolation.AREA
_THREADED_DECODE_PIXELS = 1920 * 1088
# Each source keeps one `VideoReformatter`: `frame.reformat` builds a new swscale context per
# call, a kept one is reused or updated. Measured per Ken Burns frame (interleaved, best of 9):
# no difference at 720p, 2-7% less at 1080p.


# A clip the ad shows longer than it lasts (it loops, or a later scene shows it again) is kept,
# decoded and scaled, after its first pass: each later frame is then a copy instead of a decode
# and a scale (~3 ms for a 1080p source on the 2-core target). The seed's ad shows its 5 s clip
# for 11.3 s; keeping it saved ~0.5 CPU s of a render whose x264 floor is ~6.5. Up to this many
# bytes per render (a 720p frame is 1.4 MB: ~9 s of a 30 fps clip, ~4 s at 1080p); a longer clip
# is decoded again as before. Only for clips shown at least this many times their length: a
# whole pass held in memory to spare a few frames' decoding is not worth it.
CLIP_KEEP_BYTES = 256 * 2**20
CLIP_KEEP_MIN_REPLAY = Fraction(3, 2)


class Picture(NamedTuple):
    """A source's frame. With `frame` set it is handed over: the caller may draw on it and encode
    it, saving a full-frame copy. Without, the planes are only lent: copy them, do not write."""

    planes: Planes
    frame: av.VideoFrame | None


class Source(Protocol):
    def next_frame(self) -> Picture: ...

    def close(self) -> None: ...


class StillSource:
    """A pre-scaled still moving along a Ken Burns path (see `motion.Crop`). Every frame is
    freshly scaled, so each is handed over to the caller."""

    def __init__(self, planes: Planes, frame: tuple[int, int], path: KenBurns) -> None:
        self._y, self._u, self._v = planes
        self._frame = frame
        self._path = path
        self._index = 0
        self._scaler = VideoReformatter()

    def next_frame(self) -> Picture:
        x, y, w, h, scaled_w, scaled_h, off_x, off_y = self._path.crop(self._index)
        self._index += 1
        crop = av.VideoFrame(w, h, "yuv420p")
        cy, cu, cv = frame_planes(crop)
        np.copyto(cy, self._y[y : y + h, x : x + w])
        # Chroma starts at the even pixel at or before x: at most half a chroma sample off,
        # which no one can see, while luma, which people do see, stays exact.
        np.copyto(cu, self._u[y // 2 : y // 2 + cu.shape[0], x // 2 : x // 2 + cu.shape[1]])
        np.copyto(cv, self._v[y // 2 : y // 2 + cv.shape[0], x // 2 : x // 2 + cv.shape[1]])
        width, height = self._frame
        scaled = self._scaler.reformat(
            crop, scaled_w, scaled_h, interpolation=_STILL_INTERPOLATION, threads=_SCALE_THREADS
        )
        sy, su, sv = frame_planes(scaled)
        if (scaled_w, scaled_h) == self._frame:
            return Picture((sy, su, sv), scaled)
        out, (oy, ou, ov) = new_frame(width, height)
        np.copyto(oy, sy[off_y : off_y + height, off_x : off_x + width])
        cx, cy_ = off_x // 2, off_y // 2
        np.copyto(ou, su[cy_ : cy_ + height // 2, cx : cx + width // 2])
        np.copyto(ov, sv[cy_ : cy_ + height // 2, cx : cx + width // 2])
        return Picture((oy, ou, ov), out)

    def close(self) -> None:
        pass


class StaticSource:
    """The same picture every frame (the designed background)."""

    def __init__(self, planes: Planes) -> None:
        self._planes = planes

    def next_frame(self) -> Picture:
        return Picture(self._planes, None)

    def close(self) -> None:
        pass


class KeptClip:
    """One clip's pictures over one pass, scaled to the frame and lent to whoever shows it, with
    their times within the pass; shared by every source of the clip in one render (see
    `CLIP_KEEP_BYTES`). The first source to play the clip fills it; once it holds the whole pass
    (`length` set), sources replay it instead of decoding."""

    def __init__(self, shown_seconds: Fraction) -> None:
        self.shown_seconds = shown_seconds  # how long the ad shows the clip, all scenes together
        self.budget = CLIP_KEEP_BYTES
        self.pictures: list[tuple[Picture, Fraction]] = []
        self.length: Fraction | None = None  # of one pass, once `pictures` holds all of it
        self.bytes = 0
        self.filling = False
        self.refused = False  # too large, or not shown long enough to pay: never kept

    def clear(self) -> None:
        self.pictures, self.bytes, self.length, self.filling = [], 0, None, False


class VideoSource:
    """A clip decoded as it plays, resampled to our frame rate by showing the frame due at each
    tick, looped when the scene outlasts it, cropped to the frame's shape and scaled to fill it.
    With `kept`, a pass already kept is replayed, or this source keeps its first pass."""

    def __init__(
        self, asset: RenderAsset, frame: tuple[int, int], fps: int, kept: KeptClip | None = None
    ) -> None:
        self._asset = asset
        self._frame = frame
        self._tick = Fraction(1, fps)
        self._index = 0
        self._scaler = VideoReformatter()
        self._kept = kept if kept is not None and not kept.refused else None
        self._keeping = False
        self._container: av.container.InputContainer | None = None
        try:
            if self._kept is None or self._kept.length is None:
                self._open(fps)
            self._decoded = self._decode_forever()
            self._shown, _ = self._advance()
            self._upcoming = self._advance()
            self._picture: Picture | None = None
        except BaseException:
            self.close()
            raise

    def _open(self, fps: int) -> None:
        with reading(self._asset, "opened as a video"):
            self._container = av.open(self._asset.path, "r")
        stream = self._container.streams.video[0]
        # The renderer is CPU-bound and x264 already keeps both cores busy: single-threaded
        # decoding costs ~20% less CPU than frame threads (measured, 1080p H.264) and still
        # runs at 400 fps. Only clips beyond 1080p decode slowly enough to need threads.
        if stream.width * stream.height > _THREADED_DECODE_PIXELS:
            stream.thread_type = "AUTO"
        else:
            stream.codec_context.thread_count = 1
        self._time_base = stream.time_base or Fraction(1, 1)
        rate = stream.average_rate or stream.guessed_rate or 30
        self._frame_duration = Fraction(1, 1) / Fraction(rate)
        kept = self._kept
        if kept is None or kept.filling:
            return  # another source of the clip is keeping it: decode as usual
        # Keeping converts every decoded frame, shown or not: only for clips not faster than
        # our frame rate, shown longer than they last, whose pass fits the budget.
        seconds = _duration(self._container, stream)
        width, height = self._frame
        if (
            seconds is None
            or Fraction(rate) > fps
            or kept.shown_seconds < seconds * CLIP_KEEP_MIN_REPLAY
            or seconds * Fraction(rate) * width * height * 3 // 2 > kept.budget
        ):
            kept.refused = True
            self._kept = None
            return
        kept.filling = self._keeping = True

    def next_frame(self) -> Picture:
        """The source frame due now (the nearest, not the one before). It is handed over when
        the next tick shows a newer one; a clip slower than our rate is lent, for repeating."""
        tick = self._tick
        due = self._index * tick + tick / 2
        self._index += 1
        while self._upcoming[1] <= due:
            self._shown, _ = self._upcoming
            self._upcoming = self._advance()
            self._picture = None
        if self._picture is None:
            shown = self._shown
            self._picture = shown if isinstance(shown, Picture) else self._convert(shown)[0]
        picture = self._picture
        if picture.frame is not None and self._upcoming[1] <= self._index * tick + tick / 2:
            self._picture = None  # not needed again: the caller may draw on it
            return picture
        return Picture(picture.planes, None)

    def close(self) -> None:
        if getattr(self, "_decoded", None) is not None:
            self._decoded.close()
        if self._keeping and self._kept is not None and self._kept.length is None:
            self._kept.clear()  # left before the clip's end: the next source starts afresh
        self._keeping = False
        if self._container is not None:
            self._container.close()

    def _advance(self) -> tuple[av.VideoFrame | Picture, Fraction]:
        with reading(self._asset, "decoded"):
            return next(self._decoded)

    def _decode_forever(
        self,
    ) -> Generator[tuple[av.VideoFrame | Picture, Fraction], None, None]:
        """Frames (or kept pictures) with their time on our clock; at the end, go round again:
        replaying the kept pass, or seeking back to decode it again."""
        offset = Fraction(0)
        while True:
            kept = self._kept
            if kept is not None and kept.length is not None:
                for picture, stamp in kept.pictures:
                    yield picture, offset + stamp
                offset += kept.length
                continue
            assert self._container is not None
            first: Fraction | None = None
            last = Fraction(0)
            count = 0
            for frame in self._container.decode(video=0):
                if frame.pts is None:
                    stamp = count * self._frame_duration
                else:
                    stamp = frame.pts * self._time_base
                if first is None:
                    first = stamp
                last = stamp - first
                count += 1
                yield self._keep(frame, last), offset + last
            if count == 0:
                raise RenderFailed(
                    f"video asset {self._asset.id} ({self._asset.path}) yielded no frames on replay"
                )
            offset += last + self._frame_duration
            if self._keeping and kept is not None:
                kept.length = last + self._frame_duration  # whole: replayed from now on
                self._keeping = False
                self._container.close()
                self._container = None
            else:
                self._container.seek(0)

    def _keep(self, frame: av.VideoFrame, stamp: Fraction) -> av.VideoFrame | Picture:
        """While keeping the first pass: the frame scaled now, kept, and lent from here on."""
        kept = self._kept
        if not self._keeping or kept is None:
            return frame
        picture, size = self._convert(frame)
        kept.bytes += size
        if kept.bytes > kept.budget:  # longer than its duration said: decode as usual
            kept.clear()
            kept.refused = True
            self._keeping = False
            self._kept = None
            return picture
        lent = Picture(picture.planes, None)
        kept.pictures.append((lent, stamp))
        return lent

    def _convert(self, frame: av.VideoFrame) -> tuple[Picture, int]:
        """Scale (and crop) to the frame; `Picture.frame` is set if the result is a new frame.
        Also the bytes the picture holds on to."""
        width, height = self._frame
        turns = round(frame.rotation / 90) % 4 if frame.rotation else 0
        if turns:
            frame = _upright(frame, turns)
        source = frame
        crop = _cover_crop(frame.width, frame.height, width, height)
        if crop is not None and frame.format.name in ("yuv420p", "yuvj420p"):
            # Crop before scaling so swscale never touches pixels we would throw away.
            x, y, w, h = crop
            source = av.VideoFrame(w, h, frame.format.name)
            source.colorspace = frame.colorspace
            source.color_range = frame.color_range
            for dst, src in zip(frame_planes(source), frame_planes(frame), strict=True):
                sub = 2 if dst.shape != (h, w) else 1
                np.copyto(dst, src[y // sub : y // sub + h // sub, x // sub : x // sub + w // sub])
            crop = None
        with reading(self._asset, "scaled"):
            scaled = self._scaler.reformat(
                source,
                *((width, height) if crop is None else _cover_size(frame, width, height)),
                format="yuv420p",
                src_colorspace=_colorspace(frame),
                dst_colorspace=Colorspace.ITU709,
                src_color_range=_color_range(frame),
                dst_color_range=ColorRange.MPEG,
                interpolation=_CLIP_INTERPOLATION,
                threads=_SCALE_THREADS,
            )
        y_plane, u_plane, v_plane = frame_planes(scaled)
        size = sum(plane.buffer_size for plane in scaled.planes)
        if crop is None:
            # swscale returns the decoder's own frame when there is nothing to do; never draw
            # on that, the decoder may still reference it.
            return Picture((y_plane, u_plane, v_plane), None if scaled is frame else scaled), size
        # Formats we cannot crop in place were scaled whole; take the centre now.
        left = (scaled.width - width) // 4 * 2
        top = (scaled.height - height) // 4 * 2
        planes = (
            y_plane[top : top + height, left : left + width],
            u_plane[top // 2 : (top + height) // 2, left // 2 : (left + width) // 2],
            v_plane[top // 2 : (top + height) // 2, left // 2 : (left + width) // 2],
        )
        return Picture(planes, None), size


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> Fraction | None:
    """The clip's length in seconds as its headers say, if they do."""
    if stream.duration is not None and stream.time_base is not None:
        return stream.duration * stream.time_base
    if container.duration is not None:
        return Fraction(container.duration, 1_000_000)  # AV_TIME_BASE
    return None


def _upright(frame: av.VideoFrame, turns: int) -> av.VideoFrame:
    """Apply a phone clip's display rotation (quarter turns counter-clockwise) to the pixels;
    the decoder leaves that to the player, and we are the player here."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    rotated = [np.rot90(plane, turns) for plane in frame_planes(frame)]
    height, width = rotated[0].shape
    upright = av.VideoFrame(width - width % 2, height - height % 2, frame.format.name)
    upright.colorspace = frame.colorspace
    upright.color_range = frame.color_range
    for dst, src in zip(frame_planes(upright), rotated, strict=True):
        np.copyto(dst, src[: dst.shape[0], : dst.shape[1]])
    return upright


def _cover_crop(sw: int, sh: int, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The centred, even-aligned region of a sw x sh picture with the frame's aspect ratio."""
    if sw * height == sh * width:
        return None
    if sw * height > sh * width:  # source is wider: trim the sides
        w = max(2, sh * width // height // 2 * 2)
        h = sh // 2 * 2
    else:
        w = sw // 2 * 2
        h = max(2, sw * height // width // 2 * 2)
    if (w, h) == (sw, sh):
        return None
    return (sw - w) // 4 * 2, (sh - h) // 4 * 2, w, h


def _cover_size(frame: av.VideoFrame, width: int, height: int) -> tuple[int, int]:
    scale = max(width / frame.width, height / frame.height)
    return max(width, round(frame.width * scale / 2) * 2), max(
        height, round(frame.height * scale / 2) * 2
    )


# AVColorSpace tags (what frames carry) -> swscale's matrix ids (what reformat takes).
_SWS_MATRIX = {
    1: Colorspace.ITU709,
    4: Colorspace.FCC,
    5: Colorspace.ITU601,
    6: Colorspace.SMPTE170M,
    7: Colorspace.SMPTE240M,
    9: Colorspace.BT2020,
    10: Colorspace.BT2020,
}


def _colorspace(frame: av.VideoFrame) -> int:
    # Untagged video is assumed BT.709 when HD and BT.601 when SD, as players do.
    default = Colorspace.ITU709 if frame.height >= 720 else Colorspace.ITU601
    return int(_SWS_MATRIX.get(frame.colorspace, default))


def _color_range(frame: av.VideoFrame) -> int:
    if frame.format.name == "yuvj420p" or frame.color_range == ColorRange.JPEG:
        return int(ColorRange.JPEG)
    return int(ColorRange.MPEG)
