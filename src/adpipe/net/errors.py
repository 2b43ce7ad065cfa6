"""Why fetching a URL failed: one error type with a stable `code` and whether retrying may help.

Shared by everything that reaches outside URLs (the downloader, webhook deliveries)."""

from __future__ import annotations

from adpipe.errors import AdpipeError
from adpipe.net.redact import redact_text, redact_url

# The HTTP status the API answers with when a download fails while a client waits for it.
# A permanent failure is about the URL or its content (422), an oversize body is 413, and a
# transient one is the remote side misbehaving (502).
_STATUS_BY_CODE = {"too_large": 413}


class DownloadError(AdpipeError):
    """A URL could not be turned into a valid asset.

    `code` is stable for machines ("http_404", "too_large", "timeout", "ssrf_refused",
    "invalid_content", "too_many_redirects", "redirect_loop", …); `transient` says whether the
    same request may succeed later; `retry_after` carries a server's Retry-After (seconds).

    Messages are built from redacted URLs; the detail and url are redacted here once more, so a
    library error quoting the URL it was given cannot carry a credential into an event either.
    """

    title = "Download failed"

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        transient: bool = False,
        url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        detail = redact_text(detail)
        url = redact_url(url) if url is not None else None
        super().__init__(detail, code=code, transient=transient, url=url)
        self.code = code
        self.transient = transient
        self.url = url
        self.retry_after = retry_after
        self.status_code = 502 if transient else _STATUS_BY_CODE.get(code, 422)


class UrlRefused(DownloadError):
    """The URL's scheme or the address its host resolves to is not allowed (SSRF guard).

    Deliberately not an OSError: raised inside aiohttp's resolver, an OSError would be rewrapped
    as a DNS failure; this way it reaches the caller as it is.
    """

    title = "URL refused"

    def __init__(self, detail: str, *, code: str = "ssrf_refused", url: str | None = None) -> None:
        super().__init__(detail, code=code, transient=False, url=url)
