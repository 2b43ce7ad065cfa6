"""One signed POST to a receiver, through the downloader's SSRF-guarded session.

Success is any 2xx answer within the timeout. Redirects are not followed (a receiver that moved
must be updated by its owner): a 3xx counts as a failure like any other non-2xx.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from adpipe.net import DownloadError, UrlGuard
from adpipe.net.redact import redact_text
from adpipe.services.downloader.engine import DownloadLimits, make_session
from adpipe.webhooks.signing import signature_headers

if TYPE_CHECKING:
    from adpipe.settings import WebhookConfig

USER_AGENT = "adpipe-webhooks/0.1"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    started_at: datetime
    latency_ms: int
    status_code: int | None = None
    # None means delivered; otherwise why not, in a sentence.
    error: str | None = None
    response: str | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None


def open_session(guard: UrlGuard, config: WebhookConfig) -> aiohttp.ClientSession:
    """The guarded session: every connection resolves through the guard (no rebinding gap)."""
    return make_session(
        guard,
        DownloadLimits(
            connect_timeout=config.connect_timeout_seconds, read_timeout=config.timeout_seconds
        ),
    )


async def post(
    session: aiohttp.ClientSession,
    guard: UrlGuard,
    url: str,
    *,
    message_id: str,
    body: str,
    signing_secrets: list[str],
    timeout_seconds: float,
    excerpt_bytes: int = 1024,
) -> Outcome:
    started_at = datetime.now(UTC)
    clock = time.monotonic()

    def outcome(
        *, status_code: int | None = None, error: str | None = None, response: str | None = None
    ) -> Outcome:
        return Outcome(
            started_at=started_at,
            latency_ms=int((time.monotonic() - clock) * 1000),
            status_code=status_code,
            # Errors are shown (deliveries) and may end in an event (webhook.disabled): a library
            # error quoting the URL must not carry its token there.
            error=redact_text(error) if error is not None else None,
            response=response,
        )

    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(signing_secrets, message_id, started_at, body),
    }
    try:
        async with asyncio.timeout(timeout_seconds):
            # Literal addresses never reach the session's resolver, so check the URL up front too.
            await guard.check_url(url)
            async with session.post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                excerpt = (await response.content.read(excerpt_bytes)).decode(errors="replace")
                status = response.status
    except TimeoutError:
        return outcome(error=f"no answer within {timeout_seconds:g} s")
    except DownloadError as exc:  # the guard refused the address, or DNS failed
        return outcome(error=f"refused: {exc.detail}")
    except (aiohttp.ClientError, OSError) as exc:
        return outcome(error=f"connection failed: {exc or type(exc).__name__}")
    if 200 <= status < 300:
        return outcome(status_code=status, response=excerpt or None)
    why = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return outcome(status_code=status, error=why, response=excerpt or None)
