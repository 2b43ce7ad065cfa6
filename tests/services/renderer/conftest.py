"""Fixtures for the render engine tests: tiny, strongly coloured assets built once per session,
so "this frame shows that asset" is a check on the mean colour and a render takes a second."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import av
import msgspec
import numpy as np
import pytest
from PIL import Image

from adpipe.events.scene import Scene
from adpipe.services.renderer.engine import RenderAsset

Colour = tuple[int, int, int]
RED: Colour = (220, 30, 30)
BLUE: Colour = (30, 60, 220)
GREEN: Colour = (30, 200, 60)
YELLOW: Colour = (240, 220, 20)


class Colours(msgspec.Struct, frozen=True):
    """The solid colour of each test asset, for tests to compare frames against."""

    red: Colour = RED
    blue: Colour = BLUE
    green: Colour = GREEN
    yellow: Colour = YELLOW


def write_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def write_clip(
    path: Path,
    colours: Sequence[tuple[int, int, int]],
    seconds_each: float,
    size: tuple[int, int] = (320, 180),
    fps: int = 25,
    right: tuple[int, int, int] | None = None,
    rotation: int = 0,
) -> Path:
    """A clip showing each colour in turn for `seconds_each`; with `right`, the right half is
    that colour instead; `rotation` is stored as display rotation (counter-clockwise)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        index = 0
        for colour in colours:
            picture = np.empty((size[1], size[0], 3), np.uint8)
            picture[...] = colour
            if right is not None:
                picture[:, size[0] // 2 :] = right
            for _ in range(round(seconds_each * fps)):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                index += 1
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_tone(path: Path, seconds: float, rate: int = 44_100) -> Path:
    """A 440 Hz mono tone as 16-bit WAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        total = round(seconds * rate)
        for start in range(0, total, 4096):
            count = min(4096, total - start)
            t = (np.arange(start, start + count) / rate).astype(np.float64)
            samples = (0.5 * 32767 * np.sin(2 * math.pi * 440 * t)).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderAsset]:
    folder = tmp_path_factory.mktemp("render-assets")
    files = {
        "red": ("image", write_image(folder / "red.png", RED, (400, 300))),
        "blue": ("image", write_image(folder / "blue.jpg", BLUE, (300, 500))),
        "yellow": ("image", write_image(folder / "yellow.png", YELLOW, (240, 240))),
        "green": ("video", write_clip(folder / "green.mp4", [GREEN], 1.0)),
        # 0.4 s red then 0.4 s blue: shows where a looping clip is in its cycle
        "flash": ("video", write_clip(folder / "flash.mp4", [RED, BLUE], 0.4)),
        # stored landscape, left red and right blue, shown turned a quarter counter-clockwise:
        # upright it is portrait with blue on top
        "turned": (
            "video",
            write_clip(folder / "turned.mp4", [RED], 0.5, right=BLUE, rotation=90),
        ),
        "tone": ("audio", write_tone(folder / "tone.wav", 4.0)),
    }
    return {
        name: RenderAsset(id=name, type=kind, path=str(path))  # type: ignore[arg-type]
        for name, (kind, path) in files.items()
    }


@pytest.fixture(scope="session")
def colours() -> Colours:
    return Colours()


@pytest.fixture
def scene() -> Callable[..., Scene]:
    numbers = iter(range(1, 100))

    def make(
        duration: float,
        assets: Sequence[str] = (),
        transition: str = "Cut",
        script: str = "",
        shot_type: str = "Medium",
    ) -> Scene:
        return Scene(
            scene_number=next(numbers),
            duration=duration,
            description="",
            script=script,
            shot_type=shot_type,
            transition=transition,
            assets=list(assets),
        )

    return make
