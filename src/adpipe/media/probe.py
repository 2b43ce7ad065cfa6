"""Judge a downloaded or uploaded file by its content and describe it: format, size, dimensions…"""

from __future__ import annotations

import os

from adpipe.events.asset import AssetType
from adpipe.media.errors import InvalidMedia
from adpipe.media.formats import AssetMetadata
from adpipe.media.images import probe_image, read_head
from adpipe.media.limits import MediaLimits

DEFAULT_LIMITS = MediaLimits()


def probe(
    path: str, declared_type: AssetType, limits: MediaLimits = DEFAULT_LIMITS
) -> AssetMetadata:
    """Metadata of the file at `path`, or InvalidMedia saying what is wrong with it.

    The URL, file name and Content-Type play no part: a PNG served as image/jpeg is a PNG, and
    an HTML error page served as image/jpeg is refused as an HTML document. Blocking, CPU bound
    and fed hostile input: run it in a sandbox (`MediaInspector`), not in a serving process.
    """
    size = os.path.getsize(path)
    if size == 0:
        raise InvalidMedia(f"expected {_article(declared_type)} but the file is empty")
    match declared_type:
        case "image":
            return probe_image(path, size, max_pixels=limits.max_image_pixels)
        case "video" | "audio":
            # PyAV is imported here only: an image's probe child skips its import.
            from adpipe.media.streams import probe_media

            return probe_media(path, size, read_head(path), declared_type, limits)
    raise ValueError(f"unknown asset type {declared_type!r}")


def _article(declared_type: str) -> str:
    return {"image": "an image", "video": "a video", "audio": "an audio file"}.get(
        declared_type, declared_type
    )
