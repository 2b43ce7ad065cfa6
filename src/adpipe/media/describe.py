"""What the media child runs: probe a file, then preview it — one process start for both.

Imported only inside the sandbox's child (by name, see `MediaInspector`): the processes that
serve requests or consume messages never load the decoders.
"""

from __future__ import annotations

from PIL import Image

from adpipe.events.asset import AssetType
from adpipe.media.errors import InvalidMedia
from adpipe.media.formats import Described
from adpipe.media.limits import MediaLimits
from adpipe.media.probe import probe
from adpipe.media.thumbnail import make_thumbnail


def describe(path: str, asset_type: AssetType, limits: MediaLimits) -> Described:
    """The file's metadata and preview, or InvalidMedia; blocking, for a sandboxed child."""
    # Pillow's own bomb check runs where ours does (`open_image`, on the header, before any
    # pixel is decoded) but against its fixed 89 MP: off, so the configured limit decides and
    # says so. The child's memory limit backs both.
    Image.MAX_IMAGE_PIXELS = None
    metadata = probe(path, asset_type, limits)
    try:
        thumbnail = make_thumbnail(path, asset_type, limits=limits)
    except InvalidMedia as exc:
        return Described(metadata=metadata, thumbnail=None, thumbnail_problem=exc.detail)
    return Described(metadata=metadata, thumbnail=thumbnail)
