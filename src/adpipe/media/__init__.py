"""User media, judged by content: what a file is, whether it is sound and within limits, and a
preview of it — decoded only inside bounded child processes (`MediaInspector`).

Shared by the API (uploads) and the downloader (URLs). Importing this package loads no decoder;
`adpipe.media.probe` and `adpipe.media.thumbnail` do, and run inside the child.
"""

from __future__ import annotations

from adpipe.events.asset import AssetType
from adpipe.media.errors import DecoderCrashed, InvalidMedia
from adpipe.media.formats import CONTENT_TYPES, Described
from adpipe.media.inspector import MediaInspector
from adpipe.media.limits import MediaLimits

__all__ = [
    "CONTENT_TYPES",
    "AssetType",
    "DecoderCrashed",
    "Described",
    "InvalidMedia",
    "MediaInspector",
    "MediaLimits",
]
