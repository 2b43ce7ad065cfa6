"""Small JPEG previews: an image scaled down, or a video's poster frame; audio has none."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from adpipe.media.errors import InvalidMedia
from adpipe.media.images import open_image
from adpipe.media.limits import MediaLimits
from adpipe.media.probe import DEFAULT_LIMITS

THUMBNAIL_WIDTH = 480
# The poster is taken at 10% of the video, but no later than this: past a fade-in, still
# representative of the opening shot.
POSTER_AT_MOST = 1.0
JPEG_QUALITY = 85


def make_thumbnail(
    path: str,
    asset_type: str,
    *,
    max_width: int = THUMBNAIL_WIDTH,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> bytes | None:
    """JPEG bytes at most `max_width` wide, the aspect ratio kept; None for audio.

    Expects a file `probe` accepted; raises InvalidMedia if it cannot be decoded after all.
    Blocking, CPU bound and fed hostile input: run it in a sandbox (`MediaInspector`).
    """
    match asset_type:
        case "image":
            picture = _image_picture(path, max_width, limits.max_image_pixels)
        case "video":
            # PyAV is imported for videos only: an image's probe child (most of them) skips
            # its import, a fifth of what a probe costs.
            from adpipe.media.streams import poster_frame

            picture = poster_frame(path, limits, at_most=POSTER_AT_MOST)
        case "audio":
            return None
        case _:
            raise ValueError(f"unknown asset type {asset_type!r}")
    return _encode(_fit(picture, max_width))


def _image_picture(path: str, max_width: int, max_pixels: int) -> Image.Image:
    with open_image(path, max_pixels=max_pixels) as image:
        try:
            if image.format == "JPEG":
                # Let libjpeg decode at the smallest scale still at least max_width wide.
                width, height = image.size
                image.draft("RGB", (max_width, max(1, height * max_width // max(1, width))))
            image.load()
            picture = ImageOps.exif_transpose(image)
            return _flatten(picture)
        except MemoryError:
            raise
        except Exception as exc:
            raise InvalidMedia(f"the image cannot be decoded: {exc}") from exc


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over white (JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _fit(picture: Image.Image, max_width: int) -> Image.Image:
    width, height = picture.size
    if width <= max_width:
        return picture
    new_height = max(1, round(height * max_width / width))
    return picture.resize((max_width, new_height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
