"""What the engine is asked to render and what it reports back: specs, results, errors, sizes."""

from __future__ import annotations

import msgspec

from adpipe.errors import AdpipeError
from adpipe.events.asset import AssetType
from adpipe.events.job import AspectRatio, Resolution
from adpipe.events.narration import WordTiming
from adpipe.events.scene import Scene

_SHORT_SIDE: dict[str, int] = {"720p": 720, "1080p": 1080}


class RenderAsset(msgspec.Struct, frozen=True, kw_only=True):
    """One asset the storyboard may reference, already downloaded to a local file."""

    id: str
    type: AssetType
    path: str


class RenderNarration(msgspec.Struct, frozen=True, kw_only=True):
    """A scene's voiceover: a local audio file spoken from `lead_seconds` into the scene, and
    when each of its words is spoken (seconds from the file's start), for the captions."""

    scene_number: int
    path: str
    lead_seconds: float
    words: list[WordTiming]


class RenderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The approved storyboard plus the job's presentation settings. With `narrations`, they
    are mixed over the music (ducked under speech), the mix is normalised to -16 LUFS, and the
    captions show each phrase as it is spoken; without, the ad is silent but for its music."""

    scenes: list[Scene]
    aspect_ratio: AspectRatio = "16:9"
    resolution: Resolution = "1080p"
    fps: int = 30
    call_to_action: str = ""
    style: str = ""
    product: str = ""
    audio_asset_id: str | None = None
    narrations: list[RenderNarration] = []


class RenderResult(msgspec.Struct, frozen=True, kw_only=True):
    duration_seconds: float
    width: int
    height: int
    frames: int
    size_bytes: int


class RenderFailed(AdpipeError):
    """The render cannot complete: an unreadable or corrupt asset, a bad spec, a write error."""

    title = "Render failed"


class RenderCancelled(AdpipeError):
    """The caller's `is_cancelled` answered True; the partial output has been removed."""

    title = "Render cancelled"

    def __init__(self, detail: str = "render cancelled") -> None:
        super().__init__(detail)


def frame_size(aspect_ratio: AspectRatio, resolution: Resolution) -> tuple[int, int]:
    """Width and height in pixels: the resolution names the short side (720p 9:16 is 720x1280)."""
    short = _SHORT_SIDE[resolution]
    long = short * 16 // 9
    match aspect_ratio:
        case "16:9":
            return long, short
        case "9:16":
            return short, long
        case "1:1":
            return short, short
    raise RenderFailed(f"unsupported aspect ratio {aspect_ratio!r}")
