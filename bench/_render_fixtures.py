"""Media and storyboards for `bench/render.py`, built with Pillow and PyAV: a detailed product
photo, a call-to-action card and a 1080p lifestyle clip with camera motion."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from adpipe.events.scene import Scene
from adpipe.services.renderer.engine import RenderAsset, RenderSpec

CLIP_SECONDS = 5
CLIP_FPS = 30
CLIP_SIZE = (1920, 1080)

SMART_WATCH = [  # the seed's storyboard (seed/v3-workflow.md), with a crossfade into scene 3
    (6.0, ["clip"], "Wide", "Fade in", "Life moves fast in the city."),
    (8.0, ["photo"], "Close-up", "Cut", "Stay connected to what matters most."),
    (
        10.0,
        ["clip", "photo"],
        "Montage",
        "Fast cuts with a crossfade",
        "Fitness tracking. Message alerts. Music control. All in one.",
    ),
    (6.0, ["cta"], "Product feature", "Fade out", "Buy Now at SmartWatch.com"),
]


def storyboard(resolution: str, repeat: int = 1) -> RenderSpec:
    """The Smart Watch ad (30 s), or `repeat` copies of it back to back (60 s for 2)."""
    scenes = []
    for copy in range(repeat):
        for number, (duration, assets, shot, transition, script) in enumerate(SMART_WATCH, 1):
            if copy and number == 1:
                transition = "Crossfade"  # only the very first scene fades in from black
            if copy + 1 < repeat and number == 4:
                transition = "Cut"  # and only the very last fades out
            scenes.append(
                Scene(
                    scene_number=copy * len(SMART_WATCH) + number,
                    duration=duration,
                    description="",
                    script=script,
                    shot_type=shot,
                    transition=transition,
                    assets=list(assets),
                )
            )
    return RenderSpec(
        scenes=scenes,
        resolution=resolution,  # type: ignore[arg-type]
        call_to_action="Buy Now",
        style="Modern",
        product="Smart Watch",
    )


def build_assets(folder: Path) -> dict[str, RenderAsset]:
    photo = folder / "product.jpg"
    cta = folder / "cta.png"
    clip = folder / "lifestyle.mp4"
    if not photo.exists():
        _product_photo().save(photo, quality=92)
    if not cta.exists():
        _cta_card().save(cta)
    if not clip.exists():
        _lifestyle_clip(clip)
    return {
        "photo": RenderAsset(id="photo", type="image", path=str(photo)),
        "cta": RenderAsset(id="cta", type="image", path=str(cta)),
        "clip": RenderAsset(id="clip", type="video", path=str(clip)),
    }


def _texture(width: int, height: int, seed: int) -> np.ndarray:
    """Smooth colour fields with grain and scattered sharp shapes: photo-like entropy."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [
            128 + 100 * np.sin(x / 310 + y / 530),
            128 + 90 * np.cos(y / 270 - x / 900),
            140 + 80 * np.sin((x + y) / 410),
        ],
        axis=-1,
    )
    rgb += rng.normal(0, 9, rgb.shape).astype(np.float32)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(90):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(10, 160))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x0 + r, y0 + r], fill=colour)
        else:
            draw.rectangle([x0, y0, x0 + r, y0 + r // 2], fill=colour)
    return np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)))


def _product_photo() -> Image.Image:
    """A 2400x1600 'watch on a table' shot."""
    image = Image.fromarray(_texture(2400, 1600, seed=1))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([1020, 250, 1380, 1350], 60, fill=(30, 30, 34))  # strap
    draw.ellipse([900, 500, 1500, 1100], fill=(60, 62, 70), outline=(200, 200, 210), width=18)
    draw.ellipse([960, 560, 1440, 1040], fill=(8, 10, 20))  # face
    font = ImageFont.load_default(size=110)
    draw.text((1200, 800), "10:09", font=font, fill=(120, 220, 255), anchor="mm")
    return image


def _cta_card() -> Image.Image:
    image = Image.new("RGB", (1600, 1600), (12, 20, 48))
    draw = ImageDraw.Draw(image)
    for r in range(700, 0, -20):
        shade = 48 + (700 - r) // 6
        draw.ellipse([800 - r, 700 - r, 800 + r, 700 + r], fill=(12, 20 + shade // 3, shade))
    draw.text(
        (800, 380),
        "SmartWatch",
        font=ImageFont.load_default(size=150),
        fill=(240, 240, 250),
        anchor="mm",
    )
    draw.ellipse([600, 700, 1000, 1100], fill=(40, 42, 50), outline=(210, 210, 220), width=12)
    return image


def _lifestyle_clip(path: Path) -> None:
    """5 s of 1080p30: a slow camera move over a wide scene with things crossing it."""
    width, height = CLIP_SIZE
    scene = _texture(width + 600, height + 200, seed=2)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        frames = CLIP_SECONDS * CLIP_FPS
        for index in range(frames):
            t = index / frames
            x, y = round(600 * t), round(100 + 80 * math.sin(t * math.pi))
            picture = scene[y : y + height, x : x + width].copy()
            cx = round(width * (1.2 - 1.4 * t))
            picture[400:700, max(cx, 0) : max(cx + 180, 0)] = (230, 60, 40)  # a passer-by
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
