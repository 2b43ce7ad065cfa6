"""The Smart Watch timeline in MoviePy 2's ordinary API (clips, effects, composites), following our
engine's plan: same scene times, cuts, fades, crossfade, Ken Burns zoom, captions and CTA."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from moviepy import (
    AudioClip,
    CompositeVideoClip,
    ImageClip,
    TextClip,
    VideoClip,
    VideoFileClip,
    vfx,
)

from adpipe.services.renderer.engine import RenderAsset, RenderSpec
from adpipe.services.renderer.engine.timeline import Slot, plan_timeline

FPS = 30
ZOOM = 0.13


def build(spec: RenderSpec, assets: Mapping[str, RenderAsset], size: tuple[int, int]) -> VideoClip:
    width, height = size
    timeline = plan_timeline(spec.scenes, set(assets), FPS)
    layers = [
        _scene(slot, spec, assets, size, last=slot is timeline.slots[-1]) for slot in timeline.slots
    ]
    total = timeline.total_frames / FPS
    silence = AudioClip(lambda t: np.zeros((np.size(t), 2)), duration=total, fps=48_000)
    return CompositeVideoClip(layers, size=(width, height)).with_duration(total).with_audio(silence)


def _scene(
    slot: Slot,
    spec: RenderSpec,
    assets: Mapping[str, RenderAsset],
    size: tuple[int, int],
    last: bool,
) -> VideoClip:
    width, height = size
    shown = (slot.show_until - slot.show_from) / FPS
    played: dict[int, float] = {}
    parts: list[VideoClip] = []
    for segment in slot.segments:
        start = (segment.start - slot.show_from) / FPS
        length = (segment.end - segment.start) / FPS
        asset = assets[slot.visuals[segment.asset]]
        offset = played.get(segment.asset, 0.0)
        played[segment.asset] = offset + length
        if asset.type == "video":
            clip = _video(asset.path, size, offset, length)
        else:
            clip = _ken_burns(asset.path, size, offset, length, shown, zoom_in=slot.index % 2 == 1)
        parts.append(clip.with_start(start))
    short = min(width, height)
    if slot.scene.script and not (last and slot.scene.script == spec.call_to_action):
        font_size = round(short * 0.05)
        caption = TextClip(
            text=slot.scene.script,
            font_size=font_size,
            color="white",
            stroke_color="black",
            stroke_width=max(1, font_size // 18),
            method="caption",
            size=(int(width * 0.76), None),
            text_align="center",
            duration=shown,
        )
        parts.append(caption.with_position(("center", height * 0.93 - caption.h)))
    if last and spec.call_to_action:
        font_size = round(short * 0.09)
        cta = TextClip(
            text=spec.call_to_action,
            font_size=font_size,
            color=(20, 20, 20),
            bg_color=(0, 184, 255),
            margin=(font_size // 2, font_size // 4),
            duration=(slot.show_until - slot.start) / FPS,
        ).with_effects([vfx.CrossFadeIn(0.4)])
        parts.append(
            cta.with_position(("center", height * 0.42 - cta.h / 2)).with_start(
                (slot.start - slot.show_from) / FPS
            )
        )
    scene = CompositeVideoClip(parts, size=size).with_duration(shown)
    effects = []
    if slot.fade_in:
        effects.append(vfx.FadeIn(slot.fade_in / FPS))
    if slot.fade_out:
        effects.append(vfx.FadeOut(slot.fade_out / FPS))
    if slot.entry == "crossfade":
        effects.append(vfx.CrossFadeIn((slot.enter_until - slot.show_from) / FPS))
    if effects:
        scene = scene.with_effects(effects)
    return scene.with_start(slot.show_from / FPS)


def _video(path: str, size: tuple[int, int], offset: float, length: float) -> VideoClip:
    width, height = size
    clip = VideoFileClip(path, audio=False)
    scale = max(width / clip.w, height / clip.h)
    clip = clip.resized(scale)
    clip = clip.cropped(x_center=clip.w / 2, y_center=clip.h / 2, width=width, height=height)
    start = offset % clip.duration
    if start + length <= clip.duration:
        return clip.subclipped(start, start + length)
    return clip.with_effects([vfx.Loop(duration=start + length)]).subclipped(start, start + length)


def _ken_burns(
    path: str, size: tuple[int, int], offset: float, length: float, total: float, zoom_in: bool
) -> VideoClip:
    """Zoom 1.0 -> 1.13 (or back) over the scene, centred, with a slight drift sideways."""
    width, height = size
    still = ImageClip(path)
    still = still.resized(max(width / still.w, height / still.h))  # once, to cover the frame

    def zoom(t: float) -> float:
        progress = min(1.0, (offset + t) / total)
        return 1 + ZOOM * (progress if zoom_in else 1 - progress)

    def position(t: float) -> tuple[float, float]:
        z = zoom(t)
        drift = 0.5 + 0.15 * ((offset + t) / total - 0.5)
        return (-(still.w * z - width) * drift, -(still.h * z - height) / 2)

    moving = still.resized(zoom).with_position(position)
    return CompositeVideoClip([moving], size=size).with_duration(length)
