"""Colours from the creative direction's free-text style, and the designed background they paint.
Unknown styles get a stable palette hashed from the text: the same job always looks the same."""

from __future__ import annotations

import colorsys
import hashlib

import msgspec
import numpy as np
from PIL import Image

RGB = tuple[int, int, int]


class Palette(msgspec.Struct, frozen=True, kw_only=True):
    top: RGB  # gradient start (top left)
    bottom: RGB  # gradient end (bottom right)
    accent: RGB  # call-to-action pill, product name
    text: RGB = (255, 255, 255)


_PALETTES: tuple[tuple[tuple[str, ...], Palette], ...] = (
    (
        ("luxury", "elegant", "premium", "gold"),
        Palette(top=(22, 20, 18), bottom=(70, 56, 30), accent=(201, 162, 74)),
    ),
    (
        ("minimal", "clean", "simple", "white"),
        Palette(top=(52, 58, 66), bottom=(118, 128, 140), accent=(34, 115, 230)),
    ),
    (
        ("energetic", "bold", "sport", "vibrant", "dynamic"),
        Palette(top=(120, 20, 40), bottom=(235, 100, 30), accent=(255, 196, 0)),
    ),
    (
        ("playful", "fun", "kids", "colorful", "colourful"),
        Palette(top=(120, 40, 170), bottom=(240, 90, 140), accent=(255, 214, 10)),
    ),
    (
        ("nature", "organic", "eco", "green", "fresh"),
        Palette(top=(16, 60, 40), bottom=(70, 140, 80), accent=(240, 200, 80)),
    ),
    (
        ("retro", "vintage", "warm"),
        Palette(top=(90, 40, 30), bottom=(200, 120, 60), accent=(250, 220, 150)),
    ),
    (
        ("modern", "sleek", "tech", "futuristic", "corporate"),
        Palette(top=(10, 16, 40), bottom=(40, 60, 140), accent=(0, 184, 255)),
    ),
)


def palette_for(style: str) -> Palette:
    words = style.lower()
    for keys, palette in _PALETTES:
        if any(k in words for k in keys):
            return palette
    hue = int.from_bytes(hashlib.sha256(words.encode()).digest()[:2], "big") / 65535
    return Palette(
        top=_hsv(hue, 0.65, 0.18),
        bottom=_hsv((hue + 0.08) % 1.0, 0.7, 0.55),
        accent=_hsv((hue + 0.5) % 1.0, 0.8, 0.95),
    )


def gradient(width: int, height: int, palette: Palette) -> Image.Image:
    """A diagonal gradient with a soft light from the upper third: calm behind centred text."""
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    mix = np.clip(0.65 * ys + 0.35 * xs, 0.0, 1.0)[..., None]
    top = np.array(palette.top, dtype=np.float32)
    bottom = np.array(palette.bottom, dtype=np.float32)
    rgb = top * (1.0 - mix) + bottom * mix
    glow = np.exp(-(((xs - 0.5) * 1.6) ** 2 + ((ys - 0.35) * 2.2) ** 2))[..., None]
    rgb = rgb + glow * 28.0
    # A little ordered dither hides 8-bit banding in the long, slow ramps.
    dither = (np.indices((height, width)).sum(axis=0) % 2).astype(np.float32)[..., None] - 0.5
    return Image.fromarray(np.clip(rgb + dither, 0, 255).astype(np.uint8), "RGB")


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return round(r * 255), round(g * 255), round(b * 255)
