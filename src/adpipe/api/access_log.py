"""One short log line per request, and a request id (`X-Request-ID`) that events carry along.

The same id is bound for the request's log lines (`requestId`) and recorded in the metadata of
every event the request appends, so one grep follows a request from its answer to its effects.
Each request also gets a server span and its count and latency by route (`observability.http`).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType

from adpipe.observability.http import header, request_finished, request_observed

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("adpipe.api.access")
_LINE = "%s %s %s %.0fms"


def access_log(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method: Any = scope.get("method", "-")
        incoming = header(scope, b"x-request-id")
        request_id = incoming if 0 < len(incoming) <= 100 and incoming.isprintable() else None
        # 32 hex digits like a uuid4's, without building a UUID object on every request.
        request_id = request_id or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0
        to_headers: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, to_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                to_headers = time.perf_counter() - started
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        with request_observed(scope, request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                request_finished(scope, status, to_headers)
                if log.isEnabledFor(logging.INFO):
                    # A record made directly: log.info would first walk the stack for the
                    # caller's file and line, on every request, for a line that never shows them.
                    args = (
                        method,
                        scope["path"],
                        status or "-",
                        (time.perf_counter() - started) * 1000,
                    )
                    log.handle(log.makeRecord(log.name, logging.INFO, "", 0, _LINE, args, None))

    return middleware
