"""One short log line per request, and a request id (`X-Request-ID`) that events carry along.

The same id is bound for the request's log lines (`requestId`) and recorded in the metadata of
every event the request appends, so one grep follows a request from its answer to its effects.
Each request also gets a server span and its count and latency by route (`observability.http`).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType

from adpipe.observability.http import request_finished, request_observed

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("adpipe.api.access")


def access_log(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method: Any = scope.get("method", "-")
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 100 and incoming.isprintable() else None
        request_id = request_id or uuid.uuid4().hex
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
                log.info(
                    "%s %s %s %.0fms",
                    method,
                    scope["path"],
                    status or "-",
                    (time.perf_counter() - started) * 1000,
                )

    return middleware
