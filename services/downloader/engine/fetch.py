"""Stream one URL to a temporary file: guarded redirects, size and time limits, retries.

`url` is the full URL (credentials included: the request needs them), but no message, log line
or error names it so: `_shown` redacts every URL they quote (`adpipe.net.redact`).

The body goes to a file in `dest_dir` (bounded memory) and is hashed on the way. Nothing is
stored anywhere else: the caller validates the file's content first (`probe`) and only then
streams it into the blob store, so an invalid or oversize download never reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import logging
import os
import random
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
from yarl import URL

from adpipe.net.errors import DownloadError, UrlRefused
from adpipe.net.guard import UrlGuard
from adpipe.net.redact import redact_url
from adpipe.services.downloader.engine.limits import DownloadLimits

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Statuses that say "not now" rather than "never".
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class FetchedFile(msgspec.Struct, frozen=True, kw_only=True):
    """A downloaded body on local disk; the caller owns `path` and deletes it when done."""

    path: str
    size: int
    sha256: str
    final_url: str
    content_type_header: str | None


async def fetch_to_file(
    session: aiohttp.ClientSession,
    url: str,
    declared_type: str,
    dest_dir: Path,
    limits: DownloadLimits,
    guard: UrlGuard,
) -> FetchedFile:
    """Download `url` into a new file in `dest_dir`, retrying transient failures.

    Raises DownloadError (UrlRefused for the guard's refusals); `transient=True` means the
    retries ran out (or a Retry-After was too long to wait) and a later attempt may succeed.
    """
    max_bytes = limits.max_bytes_for(declared_type)
    try:
        async with asyncio.timeout(limits.total_timeout):
            return await _fetch_with_retries(session, url, max_bytes, Path(dest_dir), limits, guard)
    except TimeoutError:
        raise DownloadError(
            f"downloading {_shown(url)} took longer than {limits.total_timeout:g} s",
            code="timeout",
            transient=True,
            url=_shown(url),
        ) from None


async def _fetch_with_retries(
    session: aiohttp.ClientSession,
    url: str,
    max_bytes: int,
    dest_dir: Path,
    limits: DownloadLimits,
    guard: UrlGuard,
) -> FetchedFile:
    attempts = limits.retries + 1
    for attempt in range(attempts):
        try:
            return await _fetch_once(session, url, max_bytes, dest_dir, limits, guard)
        except DownloadError as exc:
            if exc.url is None:
                exc.url = exc.extra["url"] = _shown(url)
            if not exc.transient:
                raise
            too_long = exc.retry_after is not None and exc.retry_after > limits.max_retry_after
            if too_long:
                # The remote's wish is honoured only up to the cap: the caller defers the message
                # by at most max_retry_after, so a hostile `Retry-After: 100000` cannot park a job.
                exc.retry_after = limits.max_retry_after
            if too_long or attempt == attempts - 1:
                if attempt > 0:
                    exc.detail = f"{exc.detail} (gave up after {attempt + 1} attempts)"
                    exc.args = (exc.detail,)
                raise
            if exc.retry_after is not None:
                delay = exc.retry_after
            else:
                # Full jitter: concurrent downloads from one failing host do not retry in step.
                delay = limits.retry_base_delay * 2**attempt * random.uniform(0.5, 1.0)
            log.info("retrying %s in %.2f s after: %s", _shown(url), delay, exc.detail)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _fetch_once(
    session: aiohttp.ClientSession,
    url: str,
    max_bytes: int,
    dest_dir: Path,
    limits: DownloadLimits,
    guard: UrlGuard,
) -> FetchedFile:
    current = guard.check_scheme(url).with_fragment(None)
    visited = {current}
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
    )
    redirects = 0
    while True:
        # Checked here for a clear error and for address literals, which aiohttp connects to
        # without asking the resolver; names are checked again by the session's resolver.
        await guard.check_url(current)
        try:
            async with session.get(current, allow_redirects=False, timeout=timeout) as response:
                if response.status in _REDIRECTS:
                    target = _redirect_target(current, response)
                    if target in visited:
                        raise DownloadError(
                            f"redirect loop: {_shown(current)} redirects back to {_shown(target)}",
                            code="redirect_loop",
                        )
                    redirects += 1
                    if redirects > limits.max_redirects:
                        raise DownloadError(
                            f"more than {limits.max_redirects} redirects,"
                            f" the last to {_shown(target)}",
                            code="too_many_redirects",
                        )
                    visited.add(target)
                    current = target
                    continue
                _check_status(current, response)
                return await _save_body(current, response, max_bytes, dest_dir, limits)
        except DownloadError:
            raise
        except aiohttp.ClientError as exc:
            raise _client_error(current, exc) from exc
        except TimeoutError as exc:
            raise DownloadError(
                f"no data from {current.host} for {limits.read_timeout:g} s",
                code="timeout",
                transient=True,
            ) from exc


def _redirect_target(current: URL, response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise DownloadError(
            f"{_shown(current)} answered {response.status} without a Location", code="bad_redirect"
        )
    try:
        target = current.join(URL(location)).with_fragment(None)
    except ValueError as exc:
        raise DownloadError(
            f"{_shown(current)} redirects to an invalid URL {redact_url(location)!r}",
            code="bad_redirect",
        ) from exc
    if target.scheme not in ("http", "https"):
        raise UrlRefused(
            f"{_shown(current)} redirects to {_shown(target)};"
            " only http and https URLs can be fetched",
            code="unsupported_scheme",
        )
    return target


def _check_status(url: URL, response: aiohttp.ClientResponse) -> None:
    status = response.status
    if status in (200, 203):
        return
    reason = f"{status} {response.reason}" if response.reason else str(status)
    detail = f"{url.host} answered {reason} for {_shown(url)}"
    if status >= 500 or status in _TRANSIENT_STATUSES:
        raise DownloadError(
            detail,
            code=f"http_{status}",
            transient=True,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    raise DownloadError(detail, code=f"http_{status}")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _save_body(
    url: URL,
    response: aiohttp.ClientResponse,
    max_bytes: int,
    dest_dir: Path,
    limits: DownloadLimits,
) -> FetchedFile:
    length = response.content_length
    if length is not None and length > max_bytes:
        raise _too_large(url, max_bytes, f"Content-Length is {length:,} bytes")
    fd, path = tempfile.mkstemp(dir=dest_dir, prefix="download-", suffix=".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                # Never ask for more than one byte past the limit: an endless body is cut off
                # there, whatever the server claims.
                chunk = await response.content.read(min(limits.chunk_size, max_bytes + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, max_bytes, "the body runs past the limit")
                digest.update(chunk)
                # Plain writes: a chunk to local disk takes far less than a millisecond.
                out.write(chunk)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return FetchedFile(
        path=path,
        size=size,
        sha256=digest.hexdigest(),
        final_url=str(url),
        content_type_header=response.headers.get("Content-Type"),
    )


def _too_large(url: URL, max_bytes: int, what: str) -> DownloadError:
    return DownloadError(
        f"{_shown(url)} is too large ({what}); the limit is {max_bytes:,} bytes", code="too_large"
    )


def _client_error(url: URL, exc: aiohttp.ClientError) -> DownloadError:
    host = url.host
    match exc:
        case aiohttp.ClientConnectorCertificateError() | aiohttp.ClientSSLError():
            return DownloadError(f"TLS failed with {host}: {exc}", code="tls_error")
        case aiohttp.ConnectionTimeoutError():
            return DownloadError(f"timed out connecting to {host}", code="timeout", transient=True)
        case aiohttp.ServerTimeoutError():
            return DownloadError(
                f"{host} stopped sending data (read timeout)", code="timeout", transient=True
            )
        case aiohttp.ClientConnectorError():
            return DownloadError(
                f"could not connect to {host}: {exc.os_error.strerror or exc.os_error}",
                code="connection_failed",
                transient=True,
            )
        case aiohttp.InvalidURL():
            return DownloadError(f"invalid URL {_shown(url)}: {exc}", code="invalid_url")
        case aiohttp.ClientPayloadError() | aiohttp.ServerDisconnectedError():
            return DownloadError(
                f"the connection to {host} broke off: {exc}", code="connection_lost", transient=True
            )
        case _:
            return DownloadError(
                f"download from {host} failed: {exc or type(exc).__name__}",
                code="connection_failed",
                transient=True,
            )


def _shown(url: URL | str) -> str:
    """A URL as messages may quote it: without its credentials."""
    return redact_url(str(url))
