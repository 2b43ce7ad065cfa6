"""Clips kept after their first pass (`KeptClip`): a loop or a later scene replays the kept
pictures instead of decoding and scaling again, and every frame comes out as decoding it would."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from adpipe.events.scene import Scene
from adpipe.services.renderer.engine import RenderAsset, RenderSpec, frame_size, sources
from adpipe.services.renderer.engine.assets import visual_assets
from adpipe.services.renderer.engine.compose import Composer
from adpipe.services.renderer.engine.timeline import plan_timeline
from adpipe.services.renderer.engine.yuv import frame_planes

MakeScene = Callable[..., Scene]


def composed(
    spec: RenderSpec, assets: dict[str, RenderAsset], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], int]:
    """A digest of every composited frame, and how many clip frames were scaled."""
    scaled = 0
    convert = sources.VideoSource._convert

    def counting(self: sources.VideoSource, frame: Any) -> Any:
        nonlocal scaled
        scaled += 1
        return convert(self, frame)

    timeline = plan_timeline(spec.scenes, visual_assets(spec, assets).keys(), spec.fps)
    digests = []
    with monkeypatch.context() as patch:
        patch.setattr(sources.VideoSource, "_convert", counting)
        size = frame_size(spec.aspect_ratio, spec.resolution)
        composer = Composer(spec, assets, timeline, size)
        try:
            for index in range(timeline.total_frames):
                digest = hashlib.sha1()
                for plane in frame_planes(composer.frame(index)):
                    digest.update(np.ascontiguousarray(plane).tobytes())
                digests.append(digest.hexdigest())
        finally:
            composer.close()
    return digests, scaled


def spy_on_kept(monkeypatch: pytest.MonkeyPatch) -> list[sources.KeptClip]:
    kept: list[sources.KeptClip] = []
    original = sources.KeptClip.__init__

    def spying(self: sources.KeptClip, shown_seconds: Fraction) -> None:
        original(self, shown_seconds)
        kept.append(self)

    monkeypatch.setattr(sources.KeptClip, "__init__", spying)
    return kept


def montage(scene: MakeScene) -> RenderSpec:
    # "flash" lasts 0.8 s: it loops in the first scene and comes back in the third
    return RenderSpec(
        scenes=[
            scene(2.0, ["flash"]),
            scene(1.0, ["red"], transition="Wipe"),
            scene(2.0, ["flash", "green"], transition="Fast cuts"),
        ],
        resolution="720p",
    )


def test_a_kept_clip_composes_the_frames_decoding_it_again_would(
    assets: dict[str, RenderAsset], scene: MakeScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = montage(scene)
    kept, kept_scaled = composed(spec, assets, monkeypatch)
    monkeypatch.setattr(sources, "CLIP_KEEP_BYTES", 0)
    decoded, decoded_scaled = composed(spec, assets, monkeypatch)

    assert kept == decoded
    # flash's 20 frames are scaled once; green (1 s, shown ~1 s) is decoded as it plays
    assert kept_scaled < decoded_scaled - 40


def test_a_clip_outgrowing_its_budget_is_decoded_again(
    assets: dict[str, RenderAsset], scene: MakeScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = montage(scene)
    expected, _ = composed(spec, assets, monkeypatch)
    width, height = frame_size(spec.aspect_ratio, spec.resolution)
    # The headers promise one frame; the budget holds three: keeping starts, then gives up.
    monkeypatch.setattr(sources, "_duration", lambda container, stream: Fraction(1, 25))
    monkeypatch.setattr(sources, "CLIP_KEEP_BYTES", 3 * width * height * 3 // 2)
    kept = spy_on_kept(monkeypatch)
    given_up, _ = composed(spec, assets, monkeypatch)

    assert given_up == expected
    flash = [k for k in kept if k.shown_seconds > 2]
    assert flash and all(k.refused and not k.pictures and k.bytes == 0 for k in flash)


def test_a_clip_shown_not_much_longer_than_it_lasts_is_not_kept(
    assets: dict[str, RenderAsset], scene: MakeScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = spy_on_kept(monkeypatch)
    # green lasts 1 s: shown for 1.4 s it would be held whole to spare 0.4 s of decoding
    spec = RenderSpec(scenes=[scene(1.4, ["green"])], resolution="720p")
    composed(spec, assets, monkeypatch)

    assert len(kept) == 1
    assert kept[0].refused and not kept[0].pictures
