"""Open and check the storyboard's asset files; every decoder error becomes a `RenderFailed`.
`preflight` reads each file before anything is encoded, so a corrupt upload fails in a moment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import av
from PIL import Image, ImageOps

from .spec import RenderAsset, RenderFailed, RenderSpec
from .style import Palette, gradient
from .yuv import image_to_planes

if TYPE_CHECKING:
    from .yuv import Planes

# Larger images are refused: a 64 MP PNG already needs 256 MB decoded, and an ad never needs it.
MAX_IMAGE_PIXELS = 64_000_000


@contextmanager
def reading(asset: RenderAsset, doing: str) -> Iterator[None]:
    """Report any failure inside as `RenderFailed` naming the asset and what we were doing."""
    try:
        yield
    except RenderFailed:
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        SyntaxError,
        MemoryError,
        Image.DecompressionBombError,
        av.FFmpegError,
    ) as error:
        reason = str(error).strip() or type(error).__name__
        raise RenderFailed(
            f"{asset.type} asset {asset.id} ({asset.path}) could not be {doing}: {reason}"
        ) from error


def visual_assets(spec: RenderSpec, assets: Mapping[str, RenderAsset]) -> dict[str, RenderAsset]:
    """The image and video assets the scenes use; an id missing from `assets` fails the render."""
    used: dict[str, RenderAsset] = {}
    for scene in spec.scenes:
        for asset_id in scene.assets:
            asset = assets.get(asset_id)
            if asset is None:
                raise RenderFailed(
                    f"scene {scene.scene_number} references asset {asset_id}, "
                    "which was not provided"
                )
            if asset.type != "audio":
                used[asset_id] = asset
    return used


def preflight(spec: RenderSpec, assets: Mapping[str, RenderAsset]) -> None:
    """Decode a little of every asset the render reads; `RenderFailed` names the first bad one."""
    for asset in visual_assets(spec, assets).values():
        if asset.type == "image":
            load_image(asset, (64, 64)).close()
        else:
            check_video(asset)
    if spec.audio_asset_id is not None:
        audio = assets.get(spec.audio_asset_id)
        if audio is None:
            raise RenderFailed(f"audio asset {spec.audio_asset_id} was not provided")
        check_audio(audio)


def load_image(asset: RenderAsset, target: tuple[int, int]) -> Image.Image:
    """Fully decoded, upright, RGB or RGBA; JPEGs decode at a reduced scale when much larger."""
    with reading(asset, "decoded as an image"):
        with Image.open(asset.path) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise RenderFailed(
                    f"image asset {asset.id} ({asset.path}) is {opened.width}x{opened.height}, "
                    f"more than the {MAX_IMAGE_PIXELS // 1_000_000} MP an ad can use"
                )
            # draft() lets libjpeg skip detail we would throw away; it only ever keeps >= target.
            opened.draft("RGB", target)
            image = ImageOps.exif_transpose(opened)
            image.load()
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        )
        return image.convert("RGBA" if has_alpha else "RGB")


def prepare_still(asset: RenderAsset, width: int, height: int, palette: Palette) -> Planes:
    """The image scaled once to cover `width` x `height` (both even) and converted to yuv420p;
    transparent images sit on the style's gradient."""
    image = load_image(asset, (width, height))
    scale = max(width / image.width, height / image.height)
    size = (max(width, _even(image.width * scale)), max(height, _even(image.height * scale)))
    with reading(asset, "scaled"):
        # Bicubic: a quarter cheaper than Lanczos and as sharp after the later <=15% Ken Burns
        # resample; reducing_gap lets very large photos shrink by cheap box steps first.
        resized = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    if resized.mode == "RGBA":
        backdrop = gradient(*size, palette).convert("RGBA")
        backdrop.alpha_composite(resized)
        resized = backdrop
    return image_to_planes(resized.convert("RGB"))


def check_video(asset: RenderAsset) -> None:
    with reading(asset, "decoded as a video"), av.open(asset.path, "r") as container:
        if not container.streams.video:
            raise RenderFailed(f"video asset {asset.id} ({asset.path}) has no video stream")
        for _frame in container.decode(video=0):
            return
        raise RenderFailed(f"video asset {asset.id} ({asset.path}) contains no decodable frames")


def check_audio(asset: RenderAsset) -> None:
    with reading(asset, "decoded as audio"), av.open(asset.path, "r") as container:
        if not container.streams.audio:
            raise RenderFailed(f"audio asset {asset.id} ({asset.path}) has no audio stream")
        for _frame in container.decode(audio=0):
            return
        raise RenderFailed(f"audio asset {asset.id} ({asset.path}) contains no decodable audio")


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)
