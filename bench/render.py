"""Benchmark the render engine against the x264 encode floor and MoviePy, at 720p and 1080p.

    .venv/bin/python bench/render.py [--full] [--runs N] [--no-moviepy] [--no-long]

Renders the seed's 30 s Smart Watch storyboard with our engine; encodes the very frames our
engine produces (composited into memory first, untimed) with PyAV and the same x264 settings and
nothing else (the "encode floor": no renderer can beat it); renders the same timeline with
MoviePy 2; and renders a 60 s ad at 1080p for peak memory. Every measurement runs in a fresh
child process, so each peak RSS is its own.

Ours and the floor run three times each, alternating, and the fastest of each is reported: on a
shared 2-core VM single runs of the same render vary by up to 15%. MoviePy takes about 2 minutes
at 720p and 6 at 1080p, so by default it runs once, at 720p only (about 5.5 minutes in all);
`--full` adds MoviePy at 1080p.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _render_fixtures import build_assets, storyboard

from adpipe.services.renderer.engine import frame_size, render
from adpipe.services.renderer.engine.compose import Composer
from adpipe.services.renderer.engine.encode import (
    ENCODER_THREADS,
    VIDEO_CRF,
    VIDEO_PRESET,
    add_video_stream,
    open_output,
)
from adpipe.services.renderer.engine.timeline import plan_timeline


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def work_ours(folder: Path, resolution: str, out: Path, repeat: int) -> dict[str, float]:
    assets = build_assets(folder)
    spec = storyboard(resolution, repeat)
    started, cpu = time.perf_counter(), time.process_time()
    result = render(spec, assets, out)
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "frames": result.frames,
        "rss_mb": _peak_rss_mb(),
        "bytes": result.size_bytes,
    }


def work_floor(folder: Path, resolution: str, out: Path, repeat: int) -> dict[str, float]:
    """Encode our renderer's own frames, composited beforehand into memory and not timed, with
    the renderer's x264 settings: exactly the pixels x264 sees in a real render."""
    assets = build_assets(folder)
    spec = storyboard(resolution, repeat)
    size = frame_size(spec.aspect_ratio, spec.resolution)
    timeline = plan_timeline(spec.scenes, set(assets), spec.fps)
    composer = Composer(spec, assets, timeline, size)
    frames = [composer.frame(index) for index in range(timeline.total_frames)]
    composer.close()
    started, cpu = time.perf_counter(), time.process_time()
    output = open_output(out)
    stream = add_video_stream(output, *size, spec.fps)
    for frame in frames:
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)
    output.close()
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "frames": len(frames),
        "rss_mb": _peak_rss_mb(),
        "bytes": out.stat().st_size,
    }


def work_moviepy(folder: Path, resolution: str, out: Path) -> dict[str, float]:
    from _moviepy_timeline import build

    assets = build_assets(folder)
    spec = storyboard(resolution)
    started, cpu = time.perf_counter(), time.process_time()
    clip = build(spec, assets, frame_size(spec.aspect_ratio, spec.resolution))
    clip.write_videofile(
        str(out),
        fps=30,
        codec="libx264",
        preset="veryfast",
        audio_codec="aac",
        audio_fps=48_000,
        ffmpeg_params=["-crf", "20", "-g", "60"],
        logger=None,
    )
    clip.close()
    wall = time.perf_counter() - started
    # MoviePy encodes in an ffmpeg child: count its CPU and memory too.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": wall,
        "cpu": time.process_time() - cpu + children.ru_utime + children.ru_stime,
        "frames": round(sum(s.duration for s in spec.scenes) * 30),
        "rss_mb": _peak_rss_mb(),
        "ffmpeg_rss_mb": children.ru_maxrss / 1024,
        "bytes": out.stat().st_size,
    }


def measure(*args: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter and read back its JSON line."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def best_pair(
    runs: int, first: tuple[str, ...], second: tuple[str, ...]
) -> tuple[dict[str, float], dict[str, float]]:
    """The fastest of `runs` of each, alternating so both see the same background load; on a
    shared machine noise only ever adds time."""
    a, b = [], []
    for _ in range(runs):
        a.append(measure(*first))
        b.append(measure(*second))
    return min(a, key=lambda r: r["wall"]), min(b, key=lambda r: r["wall"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="best of N for ours and the floor")
    parser.add_argument("--full", action="store_true", help="also MoviePy at 1080p (+6 min)")
    parser.add_argument("--no-moviepy", action="store_true", help="skip the MoviePy renders")
    parser.add_argument("--no-long", action="store_true", help="skip the 60 s 1080p render")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "ours":
            result = work_ours(Path(rest[0]), rest[1], Path(rest[2]), int(rest[3]))
        elif kind == "floor":
            result = work_floor(Path(rest[0]), rest[1], Path(rest[2]), int(rest[3]))
        else:
            result = work_moviepy(Path(rest[0]), rest[1], Path(rest[2]))
        print(json.dumps(result))
        return

    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="adpipe-bench-render-") as tmp:
        folder = Path(tmp)
        build_assets(folder)
        rows = []
        for resolution in ("720p", "1080p"):
            ours, floor = best_pair(
                args.runs,
                ("ours", tmp, resolution, str(folder / f"ours-{resolution}.mp4"), "1"),
                ("floor", tmp, resolution, str(folder / f"floor-{resolution}.mp4"), "1"),
            )
            movie = None
            if not args.no_moviepy and (args.full or resolution == "720p"):
                movie = measure("moviepy", tmp, resolution, str(folder / f"mp-{resolution}.mp4"))
            rows.append((resolution, ours, floor, movie))
            _print_row(rows[-1])
        long = None
        if not args.no_long:
            long = measure("ours", tmp, "1080p", str(folder / "ours-60s.mp4"), "2")
        _print_table(rows, long)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def _print_row(
    row: tuple[str, dict[str, float], dict[str, float], dict[str, float] | None],
) -> None:
    resolution, ours, floor, movie = row
    mp = f", moviepy {movie['wall']:.1f} s" if movie else ""
    print(f"  {resolution}: ours {ours['wall']:.1f} s, floor {floor['wall']:.1f} s{mp}", flush=True)


def _print_table(
    rows: list[tuple[str, dict[str, float], dict[str, float], dict[str, float] | None]],
    long: dict[str, float] | None,
) -> None:
    header = (
        f"{'':6} {'frames':>6} {'ours s':>7} {'x rt':>5} {'ours fps':>8} {'floor s':>7} "
        f"{'ours/floor':>10} {'moviepy s':>9} {'mp/ours':>7} {'RSS MB':>7} {'cpu s':>6}"
    )
    print(
        f"\nSmart Watch storyboard, 30 s, 4 scenes (x264 {VIDEO_PRESET}, CRF {VIDEO_CRF}, "
        f"{ENCODER_THREADS} threads)"
    )
    print(header)
    print("-" * len(header))
    for resolution, ours, floor, movie in rows:
        seconds = ours["frames"] / 30
        mp_wall = f"{movie['wall']:9.1f}" if movie else f"{'-':>9}"
        mp_ratio = f"{movie['wall'] / ours['wall']:6.1f}x" if movie else f"{'-':>7}"
        print(
            f"{resolution:6} {ours['frames']:6.0f} {ours['wall']:7.2f} "
            f"{seconds / ours['wall']:4.1f}x {ours['frames'] / ours['wall']:8.1f} "
            f"{floor['wall']:7.2f} {ours['wall'] / floor['wall']:9.2f}x {mp_wall} {mp_ratio} "
            f"{ours['rss_mb']:7.0f} {ours['cpu']:6.1f}"
        )
    for resolution, _, _, movie in rows:
        if movie:
            print(
                f"moviepy {resolution}: cpu {movie['cpu']:.1f} s (python + ffmpeg), "
                f"RSS {movie['rss_mb']:.0f} MB + ffmpeg {movie['ffmpeg_rss_mb']:.0f} MB"
            )
    if long is not None:
        print(
            f"\n60 s at 1080p (8 scenes): {long['wall']:.1f} s, "
            f"{long['frames'] / 30 / long['wall']:.1f}x realtime, "
            f"peak RSS {long['rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
