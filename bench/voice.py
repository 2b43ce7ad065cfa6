"""Benchmark narration: synthesis speed per engine, and what voiceover adds to a render.

    .venv/bin/python bench/voice.py [--runs N]

1. The seed's four scripts synthesized by each engine, in x realtime (seconds of speech per
   second of work): espeak-ng (the offline engine: cold, with its worker process starting, and
   warm) and the cloud engine (litellm `aspeech`) against a local fake OpenAI speech server on
   127.0.0.1 - that figure is litellm's and our decoding's overhead, not a provider's speed.
2. The seed's 30 s Smart Watch ad rendered at 720p with a 30 s music track, without and with
   the four narrations (fitted into their scenes), best of N alternating runs, each in a fresh
   process. Voiceover should add less than 15 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import av
import msgspec
import numpy as np
from _render_fixtures import build_assets, storyboard

from adpipe.services.renderer.engine import RenderAsset, RenderNarration, render
from adpipe.services.voice.engine import (
    CloudSynthesizer,
    EspeakSynthesizer,
    close,
    fit_narration,
)

SCRIPTS = [
    "Life moves fast in the city.",
    "Stay connected to what matters most.",
    "Fitness tracking. Message alerts. Music control. All in one.",
    "Buy Now at SmartWatch.com",
]
LIMIT = 1.15


async def synthesis_speed() -> list[tuple[str, float, float]]:
    """(label, seconds of speech, seconds of work) per engine."""
    rows = []
    espeak = EspeakSynthesizer()
    started = time.perf_counter()
    spoken = sum(
        [(await espeak.synthesize(s, voice="en-us", speed=1.0)).duration_seconds for s in SCRIPTS]
    )
    rows.append(("espeak-ng, cold (worker starts)", spoken, time.perf_counter() - started))
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        for script in SCRIPTS:
            await espeak.synthesize(script, voice="en-us", speed=1.0)
        best = min(best, time.perf_counter() - started)
    rows.append(("espeak-ng, warm", spoken, best))
    close()

    from testkit.speech_provider import serve

    async with serve() as fake:
        os.environ["OPENAI_API_KEY"] = os.environ.get("OPENAI_API_KEY", "sk-bench")
        cloud = CloudSynthesizer(
            "openai/tts-1", timeout_seconds=30, price_per_character=0.0, api_base=fake.url
        )
        await cloud.synthesize("Warm up.", voice="alloy", speed=1.0)  # litellm's import
        best, spoken = math.inf, 0.0
        for _ in range(3):
            started = time.perf_counter()
            spoken = 0.0
            for script in SCRIPTS:
                spoken += (
                    await cloud.synthesize(script, voice="alloy", speed=1.0)
                ).duration_seconds
            best = min(best, time.perf_counter() - started)
        rows.append(("litellm -> local fake OpenAI server (not a provider's speed)", spoken, best))
    return rows


def write_music(path: Path, seconds: float) -> None:
    rate = 48_000
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        total = round(seconds * rate)
        for start in range(0, total, 1024):
            t = np.arange(start, start + 1024) / rate
            chord = sum(np.sin(2 * math.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.15
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(np.stack([chord, chord]).astype(np.float32)),
                format="fltp",
                layout="stereo",
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


async def prepare(folder: Path) -> None:
    """Narrations of the seed's scenes, fitted as the voice service fits them."""
    spec = storyboard("720p")
    narrations = []
    for scene in spec.scenes:
        fitted = await fit_narration(
            EspeakSynthesizer(),
            scene.script,
            voice="en-us",
            speed=1.0,
            scene_duration=scene.duration,
        )
        path = folder / f"narration-{scene.scene_number}.wav"
        path.write_bytes(fitted.speech.audio)
        narrations.append(
            RenderNarration(
                scene_number=scene.scene_number,
                path=str(path),
                lead_seconds=fitted.lead_seconds,
                words=fitted.speech.words,
            )
        )
    close()
    (folder / "narrations.json").write_bytes(msgspec.json.encode(narrations))
    write_music(folder / "music.m4a", 30.0)


def work(folder: Path, voiced: bool, out: Path) -> dict[str, float]:
    assets = build_assets(folder)
    assets["music"] = RenderAsset(id="music", type="audio", path=str(folder / "music.m4a"))
    narrations = msgspec.json.decode(
        (folder / "narrations.json").read_bytes(), type=list[RenderNarration]
    )
    spec = msgspec.structs.replace(
        storyboard("720p"), audio_asset_id="music", narrations=narrations if voiced else []
    )
    started = time.perf_counter()
    result = render(spec, assets, out)
    return {"wall": time.perf_counter() - started, "frames": result.frames}


def soundtrack_cost(folder: Path) -> tuple[float, float]:
    """Seconds to produce the whole 30 s soundtrack without and with narration (best of 5), the
    audio work voiceover adds, measured alone so the machine's noise does not hide it."""
    from adpipe.services.renderer.engine.audio import Soundtrack
    from adpipe.services.renderer.engine.narration import NarratedSoundtrack
    from adpipe.services.renderer.engine.pipeline import _place_narrations
    from adpipe.services.renderer.engine.timeline import plan_timeline

    assets = build_assets(folder)
    music = RenderAsset(id="music", type="audio", path=str(folder / "music.m4a"))
    narrations = msgspec.json.decode(
        (folder / "narrations.json").read_bytes(), type=list[RenderNarration]
    )
    spec = msgspec.structs.replace(storyboard("720p"), narrations=narrations)
    timeline = plan_timeline(spec.scenes, set(assets), spec.fps)
    best_plain = best_voiced = math.inf
    for _ in range(5):
        started = time.perf_counter()
        plain = Soundtrack(music, 30.0)
        sum(1 for _ in plain.frames_until(plain.total_samples))
        plain.close()
        best_plain = min(best_plain, time.perf_counter() - started)
        started = time.perf_counter()
        voiced = NarratedSoundtrack(music, 30.0, _place_narrations(spec, timeline))
        sum(1 for _ in voiced.frames_until(voiced.total_samples))
        voiced.close()
        best_voiced = min(best_voiced, time.perf_counter() - started)
    return best_plain, best_voiced


def measure(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="best of N for each render")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        folder, voiced, out = args.worker
        print(json.dumps(work(Path(folder), voiced == "1", Path(out))))
        return

    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    print("\nSynthesis of the seed's four scripts")
    for label, spoken, took in asyncio.run(synthesis_speed()):
        print(
            f"  {label:62} {spoken:5.2f} s of speech in {took * 1000:7.1f} ms "
            f"= {spoken / took:7.0f}x realtime"
        )
    with tempfile.TemporaryDirectory(prefix="adpipe-bench-voice-") as tmp:
        folder = Path(tmp)
        build_assets(folder)
        asyncio.run(prepare(folder))
        plain, narrated = soundtrack_cost(folder)
        print(
            f"\nSoundtrack alone (30 s, music): {plain * 1000:.0f} ms plain, "
            f"{narrated * 1000:.0f} ms with narration, ducking and loudness "
            f"(+{(narrated - plain) * 1000:.0f} ms)"
        )
        silent, voiced = [], []
        for _ in range(args.runs):
            silent.append(measure(tmp, "0", str(folder / "silent.mp4")))
            voiced.append(measure(tmp, "1", str(folder / "voiced.mp4")))
        a = min(r["wall"] for r in silent)
        b = min(r["wall"] for r in voiced)
        ratio = b / a
        print(f"\n30 s ad at 720p with music, best of {args.runs} (alternating, fresh processes)")
        print(f"  without voiceover {a:6.2f} s")
        print(
            f"  with voiceover    {b:6.2f} s   ratio {ratio:.3f} "
            f"({'within' if ratio < LIMIT else 'OVER'} the {LIMIT:.2f} budget)"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
