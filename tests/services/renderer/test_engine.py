"""The render engine end to end: real MP4s decoded back with PyAV and checked frame by frame."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
import pytest

from adpipe.events.scene import Scene
from adpipe.services.renderer.engine import (
    RenderAsset,
    RenderCancelled,
    RenderFailed,
    RenderSpec,
    render,
)
from adpipe.services.renderer.engine.compose import Composer
from adpipe.services.renderer.engine.pipeline import COMPOSITOR_NICE

if TYPE_CHECKING:
    from conftest import Colours

FPS = 30
Colour = tuple[int, int, int]
MakeScene = Callable[..., Scene]


def spec(scenes: list[Scene], **settings: object) -> RenderSpec:
    return RenderSpec(scenes=scenes, resolution="720p", **settings)  # type: ignore[arg-type]


def frames_at(path: Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    wanted = set(indices)
    found: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found[index] = frame.to_ndarray(format="rgb24")
    assert set(found) == wanted, f"frames {sorted(wanted - set(found))} missing"
    return found


def top_band(rgb: np.ndarray) -> np.ndarray:
    """Mean colour of the upper band: clear of the caption (bottom) and call to action (middle)."""
    h, w, _ = rgb.shape
    return rgb[h // 20 : h // 4, w // 10 : w - w // 10].reshape(-1, 3).mean(axis=0)


def assert_colour(rgb: np.ndarray, colour: Colour, tolerance: float = 24) -> None:
    mean = top_band(rgb)
    assert np.abs(mean - np.array(colour)).max() <= tolerance, f"mean {mean.round()} != {colour}"


def test_output_is_h264_and_aac_mp4_lasting_the_storyboard(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    scenes = [scene(1.2, ["red"], script="Hello"), scene(0.9, ["green"]), scene(1.0)]
    out = tmp_path / "ad.mp4"

    result = render(spec(scenes), assets, out)

    with av.open(str(out)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.width, video.height) == (1280, 720)
        assert audio.codec_context.name == "aac"
        assert container.duration is not None
        assert abs(container.duration / 1e6 - 3.1) <= 1 / FPS
    assert frames == result.frames == 93
    assert result.duration_seconds == pytest.approx(3.1)
    assert result.size_bytes == out.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["ad.mp4"]


@pytest.mark.parametrize(
    ("aspect_ratio", "size"), [("16:9", (1280, 720)), ("9:16", (720, 1280)), ("1:1", (720, 720))]
)
def test_frame_size_follows_aspect_ratio(
    tmp_path: Path,
    assets: dict[str, RenderAsset],
    scene: MakeScene,
    colours: Colours,
    aspect_ratio: str,
    size: tuple[int, int],
) -> None:
    out = tmp_path / "ad.mp4"
    result = render(
        spec([scene(0.5, ["blue"], script="Caption")], aspect_ratio=aspect_ratio), assets, out
    )
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == size == (result.width, result.height)
    # Cover, not fit: a 3:5 picture fills even a 16:9 frame, with no bars at the corners.
    frame = frames_at(out, [10])[10]
    for corner in (frame[:8, :8], frame[:8, -8:], frame[-8:, :8], frame[-8:, -8:]):
        assert np.abs(corner.reshape(-1, 3).mean(axis=0) - colours.blue).max() <= 24


def test_each_scene_shows_its_own_asset(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    scenes = [scene(1.0, ["red"]), scene(1.0, ["green"]), scene(1.0, ["blue"]), scene(1.0)]
    out = tmp_path / "ad.mp4"
    render(spec(scenes, style="Modern"), assets, out)

    frames = frames_at(out, [15, 45, 75, 105])
    assert_colour(frames[15], colours.red)
    assert_colour(frames[45], colours.green)
    assert_colour(frames[75], colours.blue)
    # No asset: a designed background, neither black nor any of the assets.
    background = top_band(frames[105])
    assert background.max() > 25
    for colour in (colours.red, colours.green, colours.blue):
        assert np.abs(background - colour).max() > 40


def test_caption_is_drawn_over_the_picture(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(1.0, ["red"], script="Stay connected to what matters most.")]), assets, out)

    frame = frames_at(out, [15])[15].astype(np.int16)
    h, w, _ = frame.shape
    caption_zone = frame[h * 3 // 4 :, w // 5 : w - w // 5]
    bright = (caption_zone.min(axis=2) > 200).mean()  # white text on a red picture
    assert bright > 0.01
    assert np.abs(caption_zone - colours.red).max(axis=2).mean() > 30
    assert_colour(frame, colours.red)  # the rest of the picture is untouched


def test_call_to_action_is_drawn_large_on_the_last_scene(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    scenes = [scene(1.0, ["red"]), scene(1.0, ["red"])]
    render(spec(scenes, call_to_action="Buy Now", style="Modern"), assets, out)

    frames = frames_at(out, [15, 45])
    h = frames[15].shape[0]
    middle = slice(h // 3, h // 2)
    assert np.abs(frames[15][middle].astype(np.int16) - colours.red).max(axis=2).mean() < 8
    assert np.abs(frames[45][middle].astype(np.int16) - colours.red).max(axis=2).mean() > 30


def test_fade_in_starts_from_black(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(1.5, ["yellow"], transition="Fade in")]), assets, out)

    frames = frames_at(out, [0, 12, 40])
    first, halfway, after = (top_band(frames[i]).mean() for i in (0, 12, 40))
    assert first < 12
    assert first < halfway < after
    assert_colour(frames[40], colours.yellow)


def test_fade_out_ends_in_black(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(1.5, ["yellow"], transition="Fade out")]), assets, out)

    frames = frames_at(out, [10, 44])
    assert_colour(frames[10], colours.yellow)
    assert top_band(frames[44]).mean() < 12


def test_crossfade_blends_the_two_scenes_without_changing_the_length(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    scenes = [scene(1.0, ["red"]), scene(1.0, ["blue"], transition="Crossfade")]
    result = render(spec(scenes), assets, out)

    frames = frames_at(out, [10, 30, 50])
    assert result.frames == 60
    assert_colour(frames[10], colours.red)
    assert_colour(frames[50], colours.blue)
    mixed = top_band(frames[30])
    assert 60 < mixed[0] < 190 and 60 < mixed[2] < 190  # half red, half blue


def test_wipe_left_reveals_the_new_scene_from_the_right(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(1.0, ["red"]), scene(1.0, ["blue"], transition="Wipe left")]), assets, out)

    frame = frames_at(out, [30])[30]
    w = frame.shape[1]
    assert_colour(frame[:, : w // 5], colours.red)
    assert_colour(frame[:, -w // 5 :], colours.blue)


def test_fast_cuts_alternate_between_the_scene_assets(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(3.0, ["red", "green"], transition="Fast cuts")]), assets, out)

    frames = frames_at(out, [15, 45, 75])
    assert_colour(frames[15], colours.red)
    assert_colour(frames[45], colours.green)
    assert_colour(frames[75], colours.red)


def test_a_clip_shorter_than_its_scene_loops(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(2.0, ["flash"])]), assets, out)

    # the clip is 0.4 s red then 0.4 s blue; at 0.9 s it has started again
    frames = frames_at(out, [5, 18, 27, 40])
    assert_colour(frames[5], colours.red)
    assert_colour(frames[18], colours.blue)
    assert_colour(frames[27], colours.red)
    assert_colour(frames[40], colours.blue)


def test_a_phone_clip_is_shown_upright(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene, colours: Colours
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(0.5, ["turned"])], aspect_ratio="9:16"), assets, out)

    frame = frames_at(out, [5])[5]
    h = frame.shape[0]
    assert_colour(frame, colours.blue)
    assert_colour(frame[h // 2 + h // 8 :], colours.red)


def _audio(path: Path) -> tuple[str, np.ndarray]:
    with av.open(str(path)) as container:
        name = container.streams.audio[0].codec_context.name
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return name, np.concatenate(chunks, axis=1)


def test_silent_track_without_music(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(1.0, ["red"])]), assets, out)

    codec, samples = _audio(out)
    assert codec == "aac"
    assert samples.shape[1] >= 48_000 - 1024
    assert np.abs(samples).max() < 1e-3


def test_music_is_trimmed_and_fades_out(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    out = tmp_path / "ad.mp4"
    render(spec([scene(2.0, ["red", "tone"])], audio_asset_id="tone"), assets, out)

    codec, samples = _audio(out)
    with av.open(str(out)) as container:
        assert container.duration is not None
        assert abs(container.duration / 1e6 - 2.0) <= 1 / FPS
    rms = [float(np.sqrt((samples[:, s : s + 4800] ** 2).mean())) for s in (24_000, 91_000)]
    assert codec == "aac"
    assert rms[0] > 0.2  # the tone, at full level mid-ad
    assert rms[1] < rms[0] / 5  # faded by the end


def test_progress_rises_to_the_total(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    calls: list[tuple[int, int]] = []
    render(
        spec([scene(0.5, ["red"]), scene(0.5, ["green"])]),
        assets,
        tmp_path / "ad.mp4",
        on_progress=lambda done, total: calls.append((done, total)),
    )

    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)
    assert {t for _, t in calls} == {30}
    assert calls[-1] == (30, 30)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_compositing_runs_nicer_than_the_encoder(
    tmp_path: Path,
    assets: dict[str, RenderAsset],
    scene: MakeScene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compositor yields the cores to x264 (see `COMPOSITOR_NICE`); the caller's thread,
    which feeds x264, keeps its priority."""
    seen: set[int] = set()
    frame = Composer.frame

    def spying(self: Composer, index: int) -> av.VideoFrame:
        seen.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return frame(self, index)

    monkeypatch.setattr(Composer, "frame", spying)
    caller = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    render(spec([scene(0.5, ["red"])]), assets, tmp_path / "ad.mp4")

    assert COMPOSITOR_NICE > 0
    assert seen == {min(caller + COMPOSITOR_NICE, 19)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == caller


def test_cancel_stops_quickly_and_leaves_no_file(
    tmp_path: Path, assets: dict[str, RenderAsset], scene: MakeScene
) -> None:
    checks = 0

    def is_cancelled() -> bool:
        nonlocal checks
        checks += 1
        return checks > 20

    started = time.monotonic()
    with pytest.raises(RenderCancelled):
        render(
            spec([scene(20.0, ["green"])]), assets, tmp_path / "ad.mp4", is_cancelled=is_cancelled
        )
    assert time.monotonic() - started < 5
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "kind"), [("junk.mp4", "video"), ("junk.png", "image")])
def test_corrupt_asset_fails_with_a_clear_detail(
    tmp_path: Path, scene: MakeScene, name: str, kind: str
) -> None:
    junk = tmp_path / name
    junk.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    broken = {"junk": RenderAsset(id="junk", type=kind, path=str(junk))}  # type: ignore[arg-type]

    with pytest.raises(RenderFailed) as failure:
        render(spec([scene(1.0, ["junk"])]), broken, out_dir / "ad.mp4")

    assert f"{kind} asset junk" in failure.value.detail
    assert str(junk) in failure.value.detail
    assert list(out_dir.iterdir()) == []


def test_unknown_asset_id_fails(tmp_path: Path, scene: MakeScene) -> None:
    with pytest.raises(RenderFailed, match="references asset nope"):
        render(spec([scene(1.0, ["nope"])]), {}, tmp_path / "ad.mp4")
