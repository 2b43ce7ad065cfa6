"""One call for the service: fetch a URL, then have the media inspector validate, describe and
preview the file in its sandbox."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from adpipe.media import AssetType, DecoderCrashed, InvalidMedia
from adpipe.media.formats import AssetMetadata
from adpipe.net.guard import UrlGuard
from adpipe.net.redact import redact_url
from adpipe.services.downloader.engine.errors import InvalidContent
from adpipe.services.downloader.engine.fetch import FetchedFile, fetch_to_file
from adpipe.services.downloader.engine.limits import DownloadLimits

if TYPE_CHECKING:
    from adpipe.media import MediaInspector

log = logging.getLogger(__name__)


class DownloadedAsset(msgspec.Struct, frozen=True, kw_only=True):
    """A valid file on local disk (the caller stores it, then deletes `file.path`)."""

    file: FetchedFile
    metadata: AssetMetadata
    thumbnail: bytes | None


async def download_asset(
    session: aiohttp.ClientSession,
    url: str,
    declared_type: AssetType,
    dest_dir: Path,
    limits: DownloadLimits,
    guard: UrlGuard,
    inspector: MediaInspector,
) -> DownloadedAsset:
    """Fetch `url` and accept it only if its content is a supported file of `declared_type`.

    Raises DownloadError (InvalidContent for bad content), or DecoderCrashed when decoding the
    file killed the decoder's process (the service counts that as a crash, retried a bounded
    number of times); on any failure no file is left behind in `dest_dir`.
    """
    fetched = await fetch_to_file(session, url, declared_type, dest_dir, limits, guard)
    shown = redact_url(url)  # messages never quote a URL's credentials
    try:
        described = await inspector.describe(fetched.path, declared_type)
    except DecoderCrashed as exc:
        _remove(fetched.path)
        raise DecoderCrashed(f"{shown}: {exc.detail}", signal=exc.signal) from exc
    except InvalidMedia as exc:
        _remove(fetched.path)
        raise InvalidContent(f"{shown}: {exc.detail}", url=shown) from exc
    except BaseException:
        _remove(fetched.path)
        raise
    if described.thumbnail_problem is not None:
        # The file passed validation; a missing preview is not worth refusing it for.
        log.warning("no thumbnail for %s: %s", shown, described.thumbnail_problem)
    return DownloadedAsset(file=fetched, metadata=described.metadata, thumbnail=described.thumbnail)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
