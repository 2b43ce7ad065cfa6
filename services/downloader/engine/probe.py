"""Judge a downloaded or uploaded file by its content and describe it: format, size, dimensions…"""

from __future__ import annotations

import os
from typing import Literal

from adpipe.services.downloader.engine.errors import InvalidContent
from adpipe.services.downloader.engine.images import probe_image, read_head
from adpipe.services.downloader.engine.limits import DownloadLimits
from adpipe.services.downloader.engine.media import probe_media
from adpipe.services.downloader.engine.metadata import AssetMetadata

DEFAULT_MAX_IMAGE_PIXELS = DownloadLimits().max_image_pixels


def probe(
    path: str,
    declared_type: Literal["image", "video", "audio"],
    *,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> AssetMetadata:
    """Metadata of the file at `path`, or InvalidContent saying what is wrong with it.

    The URL, file name and Content-Type play no part: a PNG served as image/jpeg is a PNG, and
    an HTML error page served as image/jpeg is refused as an HTML document. Blocking and CPU
    bound: call it through `asyncio.to_thread`.
    """
    size = os.path.getsize(path)
    if size == 0:
        raise InvalidContent(f"expected {_article(declared_type)} but the file is empty")
    match declared_type:
        case "image":
            return probe_image(path, size, max_pixels=max_image_pixels)
        case "video" | "audio":
            return probe_media(path, size, read_head(path), declared_type)
    raise ValueError(f"unknown asset type {declared_type!r}")


def _article(declared_type: str) -> str:
    return {"image": "an image", "video": "a video", "audio": "an audio file"}.get(
        declared_type, declared_type
    )
