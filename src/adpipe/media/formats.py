"""What probing a file tells about it: the fields stored with an asset and shown by the API."""

from __future__ import annotations

import msgspec

# One struct for the engine, the events and the API: the event catalogue owns it.
from adpipe.events.asset import AssetMetadata

# The content type we store is the one the bytes are, whatever the server's header claimed.
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
}


class Described(msgspec.Struct, frozen=True, kw_only=True):
    """A valid file's metadata and its JPEG preview (None for audio, or when none could be made:
    then `thumbnail_problem` says why — the file is valid without one)."""

    metadata: AssetMetadata
    thumbnail: bytes | None
    thumbnail_problem: str | None = None


__all__ = ["CONTENT_TYPES", "AssetMetadata", "Described"]
