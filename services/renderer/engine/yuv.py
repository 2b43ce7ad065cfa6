"""Frames as three yuv420p planes in numpy (BT.709, limited range: the encoder's own format, so no
frame is converted from RGB) and the few uint8/uint16 fixed-point operations we draw with."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from PIL import Image

    Plane = NDArray[np.uint8]
    Planes = tuple[Plane, Plane, Plane]

BLACK_Y = 16
NEUTRAL_C = 128
# BT.709 RGB -> limited-range YUV, rows give Y, U, V; used for the few pixels we draw ourselves.
_RGB_TO_YUV = np.array(
    [
        [0.2126 * 219 / 255, 0.7152 * 219 / 255, 0.0722 * 219 / 255],
        [-0.1146 * 224 / 255, -0.3854 * 224 / 255, 0.5 * 224 / 255],
        [0.5 * 224 / 255, -0.4542 * 224 / 255, -0.0458 * 224 / 255],
    ],
    dtype=np.float32,
)
_YUV_OFFSET = np.array([16, 128, 128], dtype=np.float32)


def frame_planes(frame: av.VideoFrame) -> Planes:
    """Views of a yuv420p frame's planes without their row padding; writable if the frame is."""
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(
            plane.height, plane.line_size
        )
        views.append(rows[:, : plane.width])
    return views[0], views[1], views[2]


def new_frame(width: int, height: int) -> tuple[av.VideoFrame, Planes]:
    frame = av.VideoFrame(width, height, "yuv420p")
    return frame, frame_planes(frame)


def image_to_planes(image: Image.Image) -> Planes:
    """An RGB image (even width and height) as contiguous BT.709 limited-range planes."""
    rgb = av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")
    yuv = rgb.reformat(
        format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
    )
    y, u, v = frame_planes(yuv)
    return np.ascontiguousarray(y), np.ascontiguousarray(u), np.ascontiguousarray(v)


def rgb_to_yuv(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """(..., 3) RGB in 0..255 to (..., 3) limited-range Y, U, V as float (overlays only).
    Written out rather than as a matrix product: `@` goes through OpenBLAS, whose worker threads
    then spin for a while, taking CPU from x264 for nothing."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rows = zip(_RGB_TO_YUV, _YUV_OFFSET, strict=True)
    return np.stack([red * m[0] + green * m[1] + blue * m[2] + add for m, add in rows], axis=-1)


def copy_into(dst: Planes, src: Planes) -> None:
    for d, s in zip(dst, src, strict=True):
        np.copyto(d, s)


def blend_into(dst: Planes, other: Planes, weight: int) -> None:
    """dst = dst * (1 - w) + other * w, with `weight` w in 0..256."""
    for d, o in zip(dst, other, strict=True):
        mixed = d.astype(np.uint16)
        mixed *= 256 - weight
        top = o.astype(np.uint16)
        top *= weight
        mixed += top
        mixed >>= 8
        np.copyto(d, mixed, casting="unsafe")


@lru_cache(maxsize=512)
def _dim_tables(level: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    values = np.arange(256, dtype=np.int32)
    luma = BLACK_Y + ((values - BLACK_Y) * level >> 8)
    chroma = NEUTRAL_C + ((values - NEUTRAL_C) * level >> 8)
    return np.clip(luma, 0, 255).astype(np.uint8), np.clip(chroma, 0, 255).astype(np.uint8)


def dim(planes: Planes, level: int) -> None:
    """Scale towards black in place; `level` 256 leaves the frame as it is, 0 makes it black."""
    if level >= 256:
        return
    luma, chroma = _dim_tables(max(level, 0))
    # mode="clip" skips numpy's output buffering; uint8 indices never leave the 256-entry table.
    np.take(luma, planes[0], out=planes[0], mode="clip")
    np.take(chroma, planes[1], out=planes[1], mode="clip")
    np.take(chroma, planes[2], out=planes[2], mode="clip")


def fill_black(planes: Planes) -> None:
    planes[0].fill(BLACK_Y)
    planes[1].fill(NEUTRAL_C)
    planes[2].fill(NEUTRAL_C)
