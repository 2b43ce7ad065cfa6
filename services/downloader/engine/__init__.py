"""The downloader's engine: fetch a URL safely and hand the file to the media inspector.

It knows nothing of NATS or the event store; the downloader service wires it in. Judging the
file's content is `adpipe.media`'s, shared with the API's uploads.
"""

from __future__ import annotations

from adpipe.media import AssetType
from adpipe.net.guard import (
    Resolver,
    SystemResolver,
    UrlGuard,
    address_class,
)
from adpipe.services.downloader.engine.download import DownloadedAsset, download_asset
from adpipe.services.downloader.engine.errors import DownloadError, InvalidContent, UrlRefused
from adpipe.services.downloader.engine.fetch import FetchedFile, fetch_to_file
from adpipe.services.downloader.engine.limits import DownloadLimits
from adpipe.services.downloader.engine.session import make_session

__all__ = [
    "AssetType",
    "DownloadError",
    "DownloadLimits",
    "DownloadedAsset",
    "FetchedFile",
    "InvalidContent",
    "Resolver",
    "SystemResolver",
    "UrlGuard",
    "UrlRefused",
    "address_class",
    "download_asset",
    "fetch_to_file",
    "make_session",
]
