"""Media sandbox benchmark: what judging a file in a bounded child costs over doing it in-process.

For a 12 MP JPEG, a 1080p 10 s MP4 and a 1 s WAV, times `describe` (probe + thumbnail) in this
process (the baseline, how the API did it before) and through `MediaInspector` (a fresh child per
file), and prints both with the ratio — ours / in-process — and the fixed cost of a child start.

    .venv/bin/python bench/media.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from adpipe.media import MediaInspector, MediaLimits
from adpipe.media.describe import describe
from adpipe.sandbox import ChildLimits, FunctionRef, Sandbox
from adpipe.settings import load_settings


def make_files(folder: Path) -> dict[str, tuple[Path, str]]:
    rng = np.random.default_rng(1)
    jpeg = folder / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)).save(jpeg, quality=90)
    mp4 = folder / "clip.mp4"
    with av.open(str(mp4), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        base = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
        for i in range(300):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i * 4, axis=1), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    wav = folder / "voice.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\0\0" * 44100)
    return {
        "jpeg 12 MP": (jpeg, "image"),
        "mp4 1080p 10 s": (mp4, "video"),
        "wav 1 s": (wav, "audio"),
    }


async def best_of(runs: int, work: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return min(times)


async def main(runs: int) -> None:
    settings = load_settings({})
    inspector = MediaInspector.from_settings(settings)
    limits = MediaLimits.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="adpipe-bench-media-") as folder:
        files = make_files(Path(folder))
        getpid = FunctionRef("os", "getpid")  # no work: what remains is the child's start
        start = await best_of(runs, lambda: Sandbox(ChildLimits()).run(getpid))
        print(f"child start (interpreter, no work): {start * 1000:.0f} ms (best of {runs})")
        print(f"{'file':16} {'in-process':>11} {'sandboxed':>10} {'ratio':>6}")
        ratios = []
        for name, (path, kind) in files.items():

            async def local(path: Path = path, kind: str = kind) -> object:
                return await asyncio.to_thread(describe, str(path), kind, limits)  # type: ignore[arg-type]

            async def boxed(path: Path = path, kind: str = kind) -> object:
                return await inspector.describe(str(path), kind)  # type: ignore[arg-type]

            base = await best_of(runs, local)
            ours = await best_of(runs, boxed)
            ratios.append(ours / base)
            print(f"{name:16} {base * 1000:9.0f} ms {ours * 1000:8.0f} ms {ours / base:5.2f}x")
        print(f"geometric mean ratio: {statistics.geometric_mean(ratios):.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
