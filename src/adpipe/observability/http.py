"""The API's side of observability: `GET /metrics`, and what each request records — its ids for
the log lines, a server span (continuing a caller's `traceparent`), and its count and latency by
route template."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from . import correlation, tracing
from .metrics import HTTP_DURATION, HTTP_IN_PROGRESS, HTTP_REQUESTS, LIMIT_REJECTIONS

if TYPE_CHECKING:
    from litestar.types import Scope

# The route label of a request no route matched (a 404): never the raw path, which is unbounded.
UNMATCHED = "unmatched"
_UNTRACED = frozenset({"/metrics", "/healthz", "/readyz"})


@get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response[bytes]:
    """Prometheus text format. Rendered in a thread: scrape-time collectors run their queries on
    this loop and wait for them, which they cannot do from inside it."""
    body = await asyncio.to_thread(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def route_of(scope: Scope | dict[str, Any]) -> str:
    template: str | None = scope.get("path_template")
    return template or UNMATCHED


def header(scope: Scope, name: bytes) -> str:
    """A request header's value ("" when absent); `name` in lower case, as ASGI gives them."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


@contextmanager
def request_observed(scope: Scope, request_id: str) -> Iterator[None]:
    """Binds the request's ids and opens its server span for the block (the whole request)."""
    method = str(scope.get("method", "-"))
    incoming = header(scope, b"traceparent") or None
    correlation.start_work()
    correlation.bind(role_name="api", request=request_id)
    HTTP_IN_PROGRESS.inc()
    try:
        # Scrapes and probes every few seconds: counted, not traced; with tracing off, no span
        # is opened at all (an empty one still cost a context manager per request).
        if scope["path"] in _UNTRACED or not tracing.enabled():
            yield
            return
        with tracing.span(
            f"{method} {scope['path']}",
            kind="server",
            parent=incoming,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "adpipe.request_id": request_id,
            },
        ):
            yield
    finally:
        HTTP_IN_PROGRESS.dec()


# The series of each (method, route[, status]) once looked up: `labels()` checks and locks on
# every call, twice a request. Bounded like the labels themselves (route templates, not paths).
_SERIES: dict[tuple[object, ...], Any] = {}


def _series(metric: Counter | Histogram, *labels: str) -> Any:
    key = (metric, *labels)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = metric.labels(*labels)
    return series


def request_finished(scope: Scope, status: int, seconds_to_headers: float | None) -> None:
    """Counts the answer by route template and names the span after it (call inside the block)."""
    method = str(scope.get("method", "-"))
    route = route_of(scope)
    _series(HTTP_REQUESTS, method, route, str(status or 0)).inc()
    if seconds_to_headers is not None:
        _series(HTTP_DURATION, method, route).observe(seconds_to_headers)
    tracing.annotate(
        name=f"{method} {route}",
        error=f"HTTP {status}" if status >= 500 or not status else None,
        http__route=route,
        http__response__status_code=status,
        adpipe__job_id=correlation.job_id.get(),
        adpipe__user_id=correlation.user_id.get(),
    )


def count_limit_rejection(limit: str) -> None:
    LIMIT_REJECTIONS.labels(limit).inc()
