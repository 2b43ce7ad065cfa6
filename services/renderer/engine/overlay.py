"""Pre-rendered RGBA graphics (captions, call to action) laid over yuv420p frames: converted
once to premultiplied Y/U/V, then drawn per frame as `out = P + (out * inv >> 8)` over their box."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .yuv import rgb_to_yuv

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .yuv import Planes

    U16 = NDArray[np.uint16]


class Overlay:
    """An RGBA image placed at (x, y) on the frame; x, y, width and height are even (4:2:0)."""

    def __init__(self, image: Image.Image, x: int, y: int, frame: tuple[int, int]) -> None:
        if image.mode != "RGBA":
            image = image.convert("RGBA")
        # Never let a graphic leave the frame: trim what would stick out, then keep it inside.
        if image.width > frame[0] or image.height > frame[1]:
            left = max(0, (image.width - frame[0]) // 2)
            top = max(0, (image.height - frame[1]) // 2)
            image = image.crop(
                (left, top, left + min(image.width, frame[0]), top + min(image.height, frame[1]))
            )
            x, y = x + left, y + top
        x = min(max(x, 0), frame[0] - image.width)
        y = min(max(y, 0), frame[1] - image.height)
        # Even position and size keep the 2x2 chroma blocks whole.
        x, y = x - x % 2, y - y % 2
        width = min(image.width + image.width % 2, frame[0] - x)
        height = min(image.height + image.height % 2, frame[1] - y)
        if (width, height) != image.size:
            padded = Image.new("RGBA", (width, height), (0, 0, 0, 0))
            padded.paste(image, (0, 0))
            image = padded
        self.x, self.y = x, y
        self.width, self.height = width, height

        rgba = np.asarray(image, dtype=np.float32)
        alpha = rgba[..., 3] / 255.0
        yuv = rgb_to_yuv(rgba[..., :3])
        # Floor the premultiplied colour and ceil the alpha: P + out * inv / 256 then never
        # exceeds 255, so the uint16 -> uint8 store cannot wrap.
        self._luma = _floor16(yuv[..., 0] * alpha)
        self._luma_inv = _inverse(alpha)
        # Chroma is subsampled: average alpha and premultiplied colour over each 2x2 block.
        alpha_c = _pool(alpha)
        self._u = _floor16(_pool(yuv[..., 1] * alpha))
        self._v = _floor16(_pool(yuv[..., 2] * alpha))
        self._chroma_inv = _inverse(alpha_c)

    def draw(self, planes: Planes, opacity: int = 256) -> None:
        """Composite in place; `opacity` 0..256 fades the whole overlay (256 = as drawn)."""
        if opacity <= 0:
            return
        x, y, w, h = self.x, self.y, self.width, self.height
        layers: tuple[tuple[U16, U16], ...] = (
            (self._luma, self._luma_inv),
            (self._u, self._chroma_inv),
            (self._v, self._chroma_inv),
        )
        for index, (premultiplied, inverse) in enumerate(layers):
            if opacity < 256:
                premultiplied, inverse = _faded(premultiplied, inverse, opacity)
            if index == 0:
                region = planes[0][y : y + h, x : x + w]
            else:
                region = planes[index][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2]
            mixed = region * inverse  # uint8 * uint16 -> uint16, at most 255 * 256
            mixed >>= 8
            mixed += premultiplied
            np.copyto(region, mixed, casting="unsafe")


def _floor16(values: NDArray[np.float32]) -> U16:
    return np.floor(values).astype(np.uint16)


def _inverse(alpha: NDArray[np.float32]) -> U16:
    return (256 - np.ceil(alpha * 256)).astype(np.uint16)


def _pool(values: NDArray[np.float32]) -> NDArray[np.float32]:
    h, w = values.shape
    pooled: NDArray[np.float32] = values.reshape(h // 2, 2, w // 2, 2).mean(
        axis=(1, 3), dtype=np.float32
    )
    return pooled


def _faded(premultiplied: U16, inverse: U16, opacity: int) -> tuple[U16, U16]:
    scaled = (premultiplied * opacity) >> 8
    coverage = 256 - inverse
    faded_inverse = 256 - ((coverage * opacity + 255) >> 8)
    return scaled.astype(np.uint16), faded_inverse.astype(np.uint16)
