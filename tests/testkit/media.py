"""Small real media files for integration tests: solid-colour JPEGs and H.264 MP4 clips."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image


def jpeg_bytes(color: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def write_mp4(
    path: Path,
    color: tuple[int, int, int],
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 30,
) -> Path:
    """An H.264 clip of one solid colour (yuv420p), `seconds` long."""
    frame = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    frame[:] = color
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(round(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
