"""Small JPEG previews: an image scaled down, or a video's poster frame; audio has none."""

from __future__ import annotations

import io

import av
from PIL import Image, ImageOps

from adpipe.media.errors import InvalidMedia
from adpipe.media.images import open_image
from adpipe.media.limits import MediaLimits
from adpipe.media.probe import DEFAULT_LIMITS
from adpipe.media.streams import check_frame_size

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
            picture = _poster_frame(path, limits)
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


def _poster_frame(path: str, limits: MediaLimits) -> Image.Image:
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = next(
                s
                for s in container.streams.video
                if not s.disposition & av.stream.Disposition.attached_pic
            )
            check_frame_size(stream.codec_context.width, stream.codec_context.height, limits)
            duration = container.duration / av.time_base if container.duration else 0.0
            at = min(POSTER_AT_MOST, duration * 0.1)
            if at > 0 and stream.time_base:
                # Seeks to the keyframe at or before `at`; decoding forward reaches it.
                container.seek(int(at / stream.time_base), stream=stream)
            chosen: av.VideoFrame | None = None
            for frame in container.decode(stream):
                check_frame_size(frame.width, frame.height, limits)
                chosen = frame
                if frame.time is None or frame.time >= at - 1e-3:
                    break
            if chosen is None:
                raise InvalidMedia("the video has no decodable frame")
            picture: Image.Image = chosen.to_image()  # type: ignore[no-untyped-call]
            rotation = int(chosen.rotation or 0)
    except MemoryError:
        raise
    except (av.FFmpegError, StopIteration) as exc:
        raise InvalidMedia(f"no poster frame can be taken from the video: {exc}") from exc
    if rotation % 360:
        # Display matrices turn counter-clockwise, as Pillow's rotate does.
        picture = picture.rotate(rotation, expand=True)
    return picture


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
