"""Narrated renders end to end: real espeak-ng narration mixed into the MP4, decoded back with
PyAV: speech where each narration plays, silence elsewhere, the music ducked under speech, the
loudness at the target, and captions shown only while their phrase is spoken."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from adpipe.events.scene import Scene
from adpipe.services.renderer.engine import (
    RenderAsset,
    RenderFailed,
    RenderNarration,
    RenderSpec,
    render,
)
from adpipe.services.renderer.engine.narration import TARGET_LUFS, integrated_loudness
from adpipe.services.voice.engine import EspeakSynthesizer, close

MakeScene = Callable[..., Scene]
RATE = 48_000
LEAD = 0.15


@pytest.fixture(scope="module", autouse=True)
def stop_the_espeak_worker() -> object:
    yield
    close()


def narrate(folder: Path, scene_number: int, script: str) -> RenderNarration:
    speech = asyncio.run(EspeakSynthesizer().synthesize(script, voice="en-us", speed=1.0))
    path = folder / f"narration-{scene_number}.wav"
    path.write_bytes(speech.audio)
    return RenderNarration(
        scene_number=scene_number, path=str(path), lead_seconds=LEAD, words=speech.words
    )


def write_hum(path: Path, seconds: float, frequency: float = 55.0) -> Path:
    """A low stereo hum as music: below a voice's pitch, so it can be measured under speech."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=RATE)
        stream.layout = "stereo"
        total = round(seconds * RATE)
        for start in range(0, total, 4800):
            count = min(4800, total - start)
            t = np.arange(start, start + count) / RATE
            wave = (0.5 * 32767 * np.sin(2 * math.pi * frequency * t)).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(np.stack([wave, wave]).reshape(1, -1)),
                format="s16",
                layout="stereo",
            )
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def decoded_audio(path: Path) -> np.ndarray:
    """The MP4's audio as (2, n) float at 48 kHz, aligned to the video's start."""
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).astype(np.float32)


def rms_db(samples: np.ndarray) -> float:
    value = float(np.sqrt(np.mean(np.square(samples), dtype=np.float64)))
    return 20 * math.log10(max(value, 1e-9))


def window(audio: np.ndarray, start: float, end: float) -> np.ndarray:
    return audio[:, round(start * RATE) : round(end * RATE)]


def tone_level(samples: np.ndarray, frequency: float) -> float:
    """Amplitude of one frequency in the left channel (a single-bin Fourier transform)."""
    t = np.arange(samples.shape[1]) / RATE
    left = samples[0].astype(np.float64)
    return float(2 * abs(np.dot(left, np.exp(-2j * math.pi * frequency * t))) / max(1, left.size))


def narrated_spec(scenes: list[Scene], narrations: list[RenderNarration], **more: object):
    return RenderSpec(scenes=scenes, resolution="720p", narrations=narrations, **more)  # type: ignore[arg-type]


def spoken(narration: RenderNarration, scene_start: float) -> tuple[float, float]:
    words = narration.words
    at = scene_start + narration.lead_seconds
    return at + words[0].start, at + words[-1].end


def test_speech_plays_in_each_narrated_scene_and_silence_elsewhere(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    scenes = [
        scene(3.0, ["red"], script="Life moves fast in the city."),
        scene(2.5, ["blue"], script="Quiet here."),
        scene(3.5, ["green"], script="Stay connected to what matters most."),
    ]
    first = narrate(tmp_path, scenes[0].scene_number, scenes[0].script)
    third = narrate(tmp_path, scenes[2].scene_number, scenes[2].script)
    out = tmp_path / "ad.mp4"

    render(narrated_spec(scenes, [first, third]), assets, out)

    audio = decoded_audio(out)
    for narration, scene_start in ((first, 0.0), (third, 5.5)):
        begin, end = spoken(narration, scene_start)
        assert rms_db(window(audio, begin, end)) > -30, "speech where the narration plays"
        assert rms_db(window(audio, scene_start, begin - 0.05)) < -50, "silence before it"
    assert rms_db(window(audio, 3.0 + 0.1, 5.5 - 0.1)) < -55, "silence in the unnarrated scene"
    assert rms_db(window(audio, spoken(third, 5.5)[1] + 0.1, 9.0)) < -50, "silence after"


def test_the_mix_is_normalised_to_the_target_loudness(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    scenes = [
        scene(4.0, ["red"], script="Fitness tracking. Message alerts."),
        scene(4.0, ["blue"], script="Music control. All in one."),
    ]
    music = RenderAsset(id="hum", type="audio", path=str(write_hum(tmp_path / "hum.wav", 8.0)))
    narrations = [narrate(tmp_path, s.scene_number, s.script) for s in scenes]
    quiet_only = tmp_path / "quiet.mp4"
    with_music = tmp_path / "music.mp4"

    render(narrated_spec(scenes, narrations), assets, quiet_only)
    render(
        narrated_spec(scenes, narrations, audio_asset_id="hum"),
        {**assets, "hum": music},
        with_music,
    )

    for out in (quiet_only, with_music):
        audio = decoded_audio(out)
        chunks = (audio[:, i : i + 4800] for i in range(0, audio.shape[1], 4800))
        loudness = integrated_loudness(chunks)
        assert loudness is not None
        assert abs(loudness - TARGET_LUFS) < 1.0, (out.name, loudness)
        assert np.abs(audio).max() <= 1.0


def test_music_is_ducked_under_speech(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    scenes = [scene(3.0, ["red"], script="Buy now."), scene(3.0, ["blue"], script="")]
    narration = narrate(tmp_path, scenes[0].scene_number, "Buy now at SmartWatch.com.")
    music = RenderAsset(id="hum", type="audio", path=str(write_hum(tmp_path / "hum.wav", 6.0)))
    out = tmp_path / "ad.mp4"

    render(narrated_spec(scenes, [narration], audio_asset_id="hum"), {**assets, "hum": music}, out)

    audio = decoded_audio(out)
    begin, end = spoken(narration, 0.0)
    under = tone_level(window(audio, begin + 0.2, end - 0.1), 55.0)
    free = tone_level(window(audio, 3.5, 5.0), 55.0)  # no speech, before the fade out
    assert free > 0.002
    ducked_by = 20 * math.log10(free / under)
    assert 9 < ducked_by < 15, ducked_by


def frames_at(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    found: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                found[index] = frame.to_ndarray(format="rgb24")
    assert sorted(found) == sorted(indices)
    return found


def caption_zone(frame: np.ndarray) -> np.ndarray:
    h, w, _ = frame.shape
    return frame[h * 3 // 4 :, w // 5 : w - w // 5].astype(np.int16)


def test_captions_show_each_phrase_only_once_it_is_spoken(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    fps = 30
    script = "Fitness tracking. Message alerts."
    scenes = [scene(4.0, ["red"], script=script)]
    narration = narrate(tmp_path, scenes[0].scene_number, script)
    out = tmp_path / "ad.mp4"
    render(narrated_spec(scenes, [narration]), assets, out)

    second = next(w for w in narration.words if w.word == "Message")
    first_at = round((LEAD + narration.words[0].start) * fps)
    second_at = round((LEAD + second.start) * fps)
    assert first_at >= 3 and second_at - first_at >= 6
    indices = [first_at - 3, first_at + 2, second_at - 2, second_at + 2]
    frames = {k: caption_zone(v) for k, v in frames_at(out, indices).items()}
    before, first_phrase, still_first, second_phrase = (frames[i] for i in indices)
    red = np.array([220, 30, 30])

    def changed(a: np.ndarray, b: np.ndarray) -> float:
        """Share of the caption zone's pixels that differ clearly."""
        return float((np.abs(a - b).max(axis=2) > 40).mean())

    assert changed(before, red) < 0.001, "nothing before the first word"
    assert changed(first_phrase, red) > 0.05, "the first phrase once spoken"
    assert changed(first_phrase, still_first) < 0.001, "held while spoken"
    assert changed(second_phrase, first_phrase) > 0.02, "then the next phrase"


def test_a_narration_for_a_scene_the_storyboard_lacks_fails_clearly(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    scenes = [scene(2.0, ["red"], script="Hello there.")]
    narration = narrate(tmp_path, 99, "Hello there.")
    with pytest.raises(RenderFailed, match="scene 99"):
        render(narrated_spec(scenes, [narration]), assets, tmp_path / "ad.mp4")
    assert not list(tmp_path.glob("*.mp4"))


def test_a_corrupt_narration_file_fails_naming_it(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    scenes = [scene(2.0, ["red"], script="Hello there.")]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file at all")
    narration = RenderNarration(
        scene_number=scenes[0].scene_number, path=str(bad), lead_seconds=0.1, words=[]
    )
    with pytest.raises(RenderFailed, match="narration of scene"):
        render(narrated_spec(scenes, [narration]), assets, tmp_path / "ad.mp4")
