"""Validate and measure an image by decoding it with Pillow, safe against decompression bombs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from adpipe.media.errors import InvalidMedia
from adpipe.media.formats import CONTENT_TYPES, AssetMetadata
from adpipe.media.sniff import HEAD_SIZE, IMAGE_KINDS, sniff

# Sniffed kind -> Pillow format. Pillow is told the format, so a hostile file cannot steer it
# into one of its many less-travelled decoders.
SUPPORTED = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}
# EXIF orientations that turn the picture a quarter turn, so width and height swap on display.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


def read_head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(HEAD_SIZE)


@contextmanager
def open_image(path: str, *, max_pixels: int) -> Iterator[Image.Image]:
    """Open (not decode) a supported image whose pixel count is within `max_pixels`.

    Pillow reads only the header here, so an image claiming 20000x20000 pixels is refused before
    any pixel memory is allocated.
    """
    sniffed = sniff(read_head(path))
    if sniffed.kind not in SUPPORTED:
        supported = "; supported are JPEG, PNG, WebP and GIF" if sniffed.kind in IMAGE_KINDS else ""
        raise InvalidMedia(f"expected an image but the content is {sniffed.description}{supported}")
    try:
        image = Image.open(path, formats=[SUPPORTED[sniffed.kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning is raised, not printed, wherever warnings are errors (as under pytest).
        raise InvalidMedia(f"the image is too large to decode safely: {exc}") from exc
    except MemoryError:
        raise  # the sandbox's memory limit speaks for itself; not "cannot be read"
    except Exception as exc:
        # Decoders fed hostile bytes fail in many ways (OSError, SyntaxError, struct.error…);
        # each one means the same thing here.
        raise InvalidMedia(
            f"the content looks like {sniffed.description} but cannot be read: {exc}"
        ) from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise InvalidMedia(
                f"the image is {width}x{height} pixels ({width * height / 1e6:.0f} MP), over the"
                f" limit of {max_pixels / 1e6:g} MP"
            )
        yield image


def probe_image(path: str, size: int, *, max_pixels: int) -> AssetMetadata:
    with open_image(path, max_pixels=max_pixels) as image:
        kind = _kind_of(image)
        width, height = image.size
        try:
            # Structural check (PNG chunk CRCs and the like); leaves the image unusable.
            image.verify()
        except MemoryError:
            raise
        except Exception as exc:
            raise InvalidMedia(f"the {_NAMES[kind]} image is corrupt: {exc}") from exc
    with open_image(path, max_pixels=max_pixels) as image:
        try:
            if kind == "jpeg":
                # libjpeg decodes every block at 1/8 scale: the whole file is checked with
                # 1/64 of the memory.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()  # the first frame of an animated GIF or WebP
            orientation = image.getexif().get(0x0112)
        except MemoryError:
            raise
        except Exception as exc:
            raise InvalidMedia(f"the {_NAMES[kind]} image is corrupt or truncated: {exc}") from exc
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return AssetMetadata(
        format=kind,
        content_type=CONTENT_TYPES[kind],
        size=size,
        width=width,
        height=height,
    )


def _kind_of(image: Image.Image) -> str:
    return {pillow: kind for kind, pillow in SUPPORTED.items()}[str(image.format)]
