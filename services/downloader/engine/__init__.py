"""The downloader's engine: fetch a URL safely, validate its content, describe it, preview it.

It knows nothing of NATS or the event store; the downloader service wires it in.
"""

from __future__ import annotations

from adpipe.services.downloader.engine.download import DownloadedAsset, download_asset
from adpipe.services.downloader.engine.errors import DownloadError, InvalidContent, UrlRefused
from adpipe.services.downloader.engine.fetch import FetchedFile, fetch_to_file
from adpipe.services.downloader.engine.guard import (
    Resolver,
    SystemResolver,
    UrlGuard,
    address_class,
)
from adpipe.services.downloader.engine.limits import AssetType, DownloadLimits
from adpipe.services.downloader.engine.metadata import CONTENT_TYPES, AssetMetadata
from adpipe.services.downloader.engine.probe import probe
from adpipe.services.downloader.engine.session import make_session
from adpipe.services.downloader.engine.thumbnail import make_thumbnail

__all__ = [
    "CONTENT_TYPES",
    "AssetMetadata",
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
    "make_thumbnail",
    "probe",
]
