"""Turn the timeline into frames: each scene draws its pictures and text, transitions combine two.
A scene's sources, overlays and stills live only while it is on screen: memory stays flat."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING

from adpipe.captions import Cue, SceneWords, build_cues, estimate_words

from . import text
from .assets import prepare_still
from .motion import ZOOM_HEADROOM, KenBurns, choose_path
from .sources import KeptClip, Source, StaticSource, StillSource, VideoSource
from .style import Palette, gradient, palette_for
from .yuv import blend_into, copy_into, dim, image_to_planes, new_frame

if TYPE_CHECKING:
    import av

    from .overlay import Overlay
    from .spec import RenderAsset, RenderSpec
    from .timeline import Slot, Timeline
    from .yuv import Planes

CTA_FADE_SECONDS = 0.4


class _Stills:
    """Pre-scaled stills and kept clips (see `KeptClip`) shared by the scenes that use them,
    freed after their last scene."""

    def __init__(self, timeline: Timeline, size: tuple[int, int], palette: Palette) -> None:
        self._uses = Counter(a for slot in timeline.slots for a in set(slot.visuals))
        self._shown: Counter[str] = Counter()
        for slot in timeline.slots:
            for position, asset_id in enumerate(slot.visuals):
                self._shown[asset_id] += slot.frames_of(position)
        self._fps = timeline.fps
        self._size = size
        self._palette = palette
        self._planes: dict[str, Planes] = {}
        self._clips: dict[str, KeptClip] = {}

    def get(self, asset: RenderAsset) -> Planes:
        if asset.id not in self._planes:
            self._planes[asset.id] = prepare_still(asset, *self._size, self._palette)
        return self._planes[asset.id]

    def clip(self, asset: RenderAsset) -> KeptClip:
        if asset.id not in self._clips:
            self._clips[asset.id] = KeptClip(Fraction(self._shown[asset.id], self._fps))
        return self._clips[asset.id]

    def release(self, asset_ids: set[str]) -> None:
        for asset_id in asset_ids:
            self._uses[asset_id] -= 1
            if self._uses[asset_id] <= 0:
                self._planes.pop(asset_id, None)
                self._clips.pop(asset_id, None)


class SceneLayer:
    """Everything one scene draws: its sources (a montage cuts between them), caption and CTA."""

    def __init__(self, slot: Slot, composer: Composer) -> None:
        self._slot = slot
        self._composer = composer
        self._sources: dict[int, Source] = {}
        width, height = composer.size
        spec = composer.spec
        is_last = slot.index == len(composer.timeline.slots) - 1
        cta = spec.call_to_action if is_last else ""
        script = slot.scene.script
        if cta and " ".join(script.split()).casefold() == " ".join(cta.split()).casefold():
            script = ""  # the call to action already says it, larger
        self._overlays: list[Overlay] = []
        # Spoken captions: (first frame, end frame, overlay) of each phrase, shown while spoken.
        self._phrases: list[tuple[int, int, Overlay]] = []
        fps = composer.timeline.fps
        if slot.visuals and composer.narrated:
            for cue in composer.cues(slot, script):
                if (cap := text.caption(cue.text, width, height)) is not None:
                    self._phrases.append((round(cue.start * fps), round(cue.end * fps), cap))
        elif slot.visuals:
            if (cap := text.caption(script, width, height)) is not None:
                self._overlays.append(cap)
        elif (
            card := text.title_card(
                script, spec.product, width, height, composer.palette, centre=0.3 if cta else 0.5
            )
        ) is not None:
            self._overlays.append(card)
        self._cta = text.call_to_action(
            cta, width, height, composer.palette, centre=0.42 if slot.visuals else 0.68
        )
        self._cta_fade = max(1, round(CTA_FADE_SECONDS * composer.timeline.fps))

    def picture(self, index: int) -> tuple[av.VideoFrame, Planes]:
        """This scene's frame `index`, ours to draw on and encode."""
        slot = self._slot
        segment = slot.segment_at(index)
        planes, frame = self._source(segment.asset).next_frame()
        if frame is None:  # lent: copy into a frame of our own
            frame, out = new_frame(*self._composer.size)
            copy_into(out, planes)
        else:
            out = planes
        for overlay in self._overlays:
            overlay.draw(out)
        for first, end, phrase in self._phrases:
            if first <= index < end:
                phrase.draw(out)
        if self._cta is not None and index >= slot.start:
            self._cta.draw(out, min(256, (index - slot.start + 1) * 256 // self._cta_fade))
        dim(out, round(slot.brightness(index) * 256))
        return frame, out

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()
        self._composer.stills.release(set(self._slot.visuals))

    def _source(self, position: int) -> Source:
        source = self._sources.get(position)
        if source is not None:
            return source
        composer = self._composer
        if position < 0:
            source = StaticSource(composer.background())
        else:
            asset = composer.assets[self._slot.visuals[position]]
            if asset.type == "video":
                source = VideoSource(
                    asset, composer.size, composer.timeline.fps, composer.stills.clip(asset)
                )
            else:
                planes = composer.stills.get(asset)
                path = KenBurns(
                    (planes[0].shape[1], planes[0].shape[0]),
                    composer.size,
                    choose_path(self._slot.scene.shot_type, self._slot.index + position),
                    self._slot.frames_of(position),
                    composer.timeline.fps,
                )
                source = StillSource(planes, composer.size, path)
        self._sources[position] = source
        return source


class Composer:
    """Frames of the whole ad, requested strictly in order by `frame(index)`."""

    def __init__(
        self,
        spec: RenderSpec,
        assets: Mapping[str, RenderAsset],
        timeline: Timeline,
        size: tuple[int, int],
    ) -> None:
        self.spec = spec
        self.assets = assets
        self.timeline = timeline
        self.size = size
        self.palette = palette_for(spec.style)
        headroom = (_even(size[0] * ZOOM_HEADROOM), _even(size[1] * ZOOM_HEADROOM))
        self.stills = _Stills(timeline, headroom, self.palette)
        self._layers: dict[int, SceneLayer] = {}
        self._background: Planes | None = None
        self._time_base = Fraction(1, timeline.fps)
        self.narrated = bool(spec.narrations)
        self._narrations = {n.scene_number: n for n in spec.narrations}

    def cues(self, slot: Slot, script: str) -> list[Cue]:
        """The phrases of `script` as this slot's narration speaks them (a scene left without
        narration gets estimated timings), in seconds of the video."""
        fps = self.timeline.fps
        seconds = (slot.end - slot.start) / fps
        narration = self._narrations.get(slot.scene.scene_number)
        words, lead = (narration.words, narration.lead_seconds) if narration else ([], 0.0)
        if narration is None:
            words = estimate_words(script, seconds)
        scene = SceneWords(
            scene_start=slot.start / fps,
            scene_duration=seconds,
            offset=lead,
            words=words,
            script=script,
        )
        return build_cues([scene])

    def background(self) -> Planes:
        if self._background is None:
            self._background = image_to_planes(gradient(*self.size, self.palette))
        return self._background

    def frame(self, index: int) -> av.VideoFrame:
        visible = self.timeline.visible(index)
        for slot_index in [
            k for k, layer in self._layers.items() if all(s.index != k for s in visible)
        ]:
            self._layers.pop(slot_index).close()
        layers = []
        for slot in visible:
            if slot.index not in self._layers:
                self._layers[slot.index] = SceneLayer(slot, self)
            layers.append(self._layers[slot.index])
        if len(layers) == 1:
            frame, _ = layers[0].picture(index)
        else:
            frame = self._transition(index, visible[1], layers[0], layers[1])
        # A frame handed over by a clip carries the clip's time base; ours is the frame rate.
        frame.pts, frame.time_base = index, self._time_base
        return frame

    def close(self) -> None:
        for layer in self._layers.values():
            layer.close()
        self._layers.clear()

    def _transition(
        self, index: int, entering: Slot, old: SceneLayer, new: SceneLayer
    ) -> av.VideoFrame:
        """`entering` comes in over the previous scene during [show_from, enter_until)."""
        window = entering.enter_until - entering.show_from
        progress = (index - entering.show_from + 1) / (window + 1)  # never 0% or 100%
        old_frame, old_planes = old.picture(index)
        new_frame_, new_planes = new.picture(index)
        if entering.entry == "crossfade":
            blend_into(new_planes, old_planes, 256 - round(progress * 256))
            return new_frame_
        width, height = self.size
        horizontal = entering.direction in ("left", "right")
        extent = width if horizontal else height
        shift = _even(extent * (1 - progress))  # how much of the new scene is still off screen
        towards_start = entering.direction in ("left", "up")  # new scene enters from right/bottom
        if entering.entry == "wipe":
            keep = slice(0, shift) if towards_start else slice(extent - shift, extent)
            _copy_band(new_planes, old_planes, keep, keep, horizontal)
            return new_frame_
        # slide: the new scene moves in over the old one, which stays still underneath
        shown = extent - shift
        if towards_start:
            _copy_band(old_planes, new_planes, slice(shift, extent), slice(0, shown), horizontal)
        else:
            _copy_band(old_planes, new_planes, slice(0, shown), slice(shift, extent), horizontal)
        return old_frame


def _copy_band(dst: Planes, src: Planes, to: slice, frm: slice, horizontal: bool) -> None:
    """Copy rows or columns `frm` of src to `to` of dst (luma coordinates, even bounds)."""
    for plane, (d, s) in enumerate(zip(dst, src, strict=True)):
        div = 1 if plane == 0 else 2
        t = slice(to.start // div, to.stop // div)
        f = slice(frm.start // div, frm.stop // div)
        if horizontal:
            d[:, t] = s[:, f]
        else:
            d[t, :] = s[f, :]


def _even(value: float) -> int:
    return max(0, round(value / 2) * 2)
