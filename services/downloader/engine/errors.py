"""Why a download failed: the fetch errors every URL user shares, and content that is no asset."""

from __future__ import annotations

from adpipe.net.errors import DownloadError, UrlRefused


class InvalidContent(DownloadError, ValueError):
    """The bytes are not a supported file of the declared type (or are corrupt or truncated)."""

    title = "Invalid asset content"

    def __init__(self, detail: str, *, url: str | None = None) -> None:
        super().__init__(detail, code="invalid_content", transient=False, url=url)


__all__ = ["DownloadError", "InvalidContent", "UrlRefused"]
