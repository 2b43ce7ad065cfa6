"""One call for the service: fetch a URL, validate its content, describe it and make a preview."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Literal

import aiohttp
import msgspec

from adpipe.services.downloader.engine.errors import InvalidContent
from adpipe.services.downloader.engine.fetch import FetchedFile, fetch_to_file
from adpipe.services.downloader.engine.guard import UrlGuard
from adpipe.services.downloader.engine.limits import DownloadLimits
from adpipe.services.downloader.engine.metadata import AssetMetadata
from adpipe.services.downloader.engine.probe import probe
from adpipe.services.downloader.engine.thumbnail import make_thumbnail

log = logging.getLogger(__name__)


class DownloadedAsset(msgspec.Struct, frozen=True, kw_only=True):
    """A valid file on local disk (the caller stores it, then deletes `file.path`)."""

    file: FetchedFile
    metadata: AssetMetadata
    thumbnail: bytes | None


async def download_asset(
    session: aiohttp.ClientSession,
    url: str,
    declared_type: Literal["image", "video", "audio"],
    dest_dir: Path,
    limits: DownloadLimits,
    guard: UrlGuard,
) -> DownloadedAsset:
    """Fetch `url` and accept it only if its content is a supported file of `declared_type`.

    Raises DownloadError (InvalidContent for bad content); on any failure no file is left
    behind in `dest_dir`.
    """
    fetched = await fetch_to_file(session, url, declared_type, dest_dir, limits, guard)
    try:
        metadata = await asyncio.to_thread(
            probe, fetched.path, declared_type, max_image_pixels=limits.max_image_pixels
        )
    except InvalidContent as exc:
        _remove(fetched.path)
        raise InvalidContent(f"{url}: {exc.detail}", url=url) from exc
    except BaseException:
        _remove(fetched.path)
        raise
    try:
        thumbnail = await asyncio.to_thread(
            make_thumbnail,
            fetched.path,
            declared_type,
            max_image_pixels=limits.max_image_pixels,
        )
    except InvalidContent as exc:
        # The file passed validation; a missing preview is not worth refusing it for.
        log.warning("no thumbnail for %s: %s", url, exc.detail)
        thumbnail = None
    except BaseException:
        _remove(fetched.path)
        raise
    return DownloadedAsset(file=fetched, metadata=metadata, thumbnail=thumbnail)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
