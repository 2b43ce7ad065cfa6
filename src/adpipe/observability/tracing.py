"""OpenTelemetry spans that follow a job across processes — off, and free, unless configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, `configure` builds a tracer that
exports over OTLP/HTTP. Until then every function here is a check of one module global: the SDK is
never imported. The trace context travels as a W3C `traceparent` string — in each event's metadata
(stamped by the event store on append) and in the NATS header of its message (set by the relay) —
so a service's span is the child of whatever appended the event it consumes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

import msgspec

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
AttributeValue = str | int | float | bool
S = TypeVar("S", bound=msgspec.Struct)


class _Tracing:
    def __init__(self, provider: TracerProvider, tracer: Tracer) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = tracer
        self.trace = trace
        self.propagator = TraceContextTextMapPropagator()

    def context_of(self, traceparent: str) -> Context | None:
        ctx = self.propagator.extract({"traceparent": traceparent})
        return ctx if self.trace.get_current_span(ctx).get_span_context().is_valid else None

    def current_traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        return carrier.get("traceparent")


_state: _Tracing | None = None


def configure(
    endpoint: str | None,
    *,
    service_name: str,
    exporter: SpanExporter | None = None,
) -> bool:
    """Starts exporting spans to `endpoint` (an OTLP/HTTP traces URL); False when it is None.

    `exporter` replaces the OTLP exporter (tests of other sinks). Replaces an earlier setup.
    """
    global _state
    if endpoint is None and exporter is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from adpipe import __version__

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=10)
    shutdown()
    # The sampler follows OTEL_TRACES_SAMPLER (parent-based, always on, by default).
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name, "service.version": __version__})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _state = _Tracing(provider, provider.get_tracer("adpipe", __version__))
    log.info("tracing: spans of %s go to %s", service_name, endpoint or exporter)
    return True


def shutdown() -> None:
    """Sends what is buffered and stops tracing."""
    global _state
    state, _state = _state, None
    if state is not None:
        state.provider.shutdown()


def flush(timeout_seconds: float = 10.0) -> bool:
    return _state.provider.force_flush(int(timeout_seconds * 1000)) if _state else True


def enabled() -> bool:
    return _state is not None


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = "internal",
    parent: str | None = None,
    links: Sequence[str | None] = (),
    attributes: Mapping[str, AttributeValue | None] | None = None,
) -> Iterator[None]:
    """A span around the block, current inside it. `parent` (a traceparent) replaces the
    current span as the parent; `links` point at related spans of other traces."""
    state = _state
    if state is None:
        yield
        return
    from opentelemetry.trace import Link, SpanKind

    context = state.context_of(parent) if parent else None
    span_links = []
    for traceparent in links:
        linked = state.context_of(traceparent) if traceparent else None
        if linked is not None:
            span_links.append(Link(state.trace.get_current_span(linked).get_span_context()))
    with state.tracer.start_as_current_span(
        name,
        context=context,
        kind=SpanKind[kind.upper()],
        links=span_links,
        attributes={k: v for k, v in (attributes or {}).items() if v is not None},
    ):
        yield


def annotate(
    *, name: str | None = None, error: str | None = None, **attributes: AttributeValue | None
) -> None:
    """Sets attributes (and a new name, or an error status) on the current span, if any."""
    state = _state
    if state is None:
        return
    current = state.trace.get_current_span()
    if not current.is_recording():
        return
    if name is not None:
        current.update_name(name)
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key.replace("__", "."), value)
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        current.set_status(Status(StatusCode.ERROR, error))


def current_traceparent() -> str | None:
    """The current span as a W3C traceparent, or None (no span, or tracing off)."""
    return _state.current_traceparent() if _state else None


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id inside a traceparent (`00-<trace id>-<span id>-<flags>`)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def stamp(metadata: S) -> S:
    """`metadata` with the current span as its `traceparent`, unless it already has one."""
    if _state is None or getattr(metadata, "traceparent", None) is not None:
        return metadata
    traceparent = _state.current_traceparent()
    if traceparent is None:
        return metadata
    return msgspec.structs.replace(metadata, traceparent=traceparent)


def message_headers(fallback: str | None) -> dict[str, str]:
    """The `traceparent` header for a message: the current span's, else the event's own."""
    traceparent = current_traceparent() or fallback
    return {"traceparent": traceparent} if traceparent else {}


def log_ids() -> dict[str, str]:
    """`traceId` and `spanId` of the current span for log lines (nothing when tracing is off)."""
    state = _state
    if state is None:
        return {}
    context = state.trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"traceId": f"{context.trace_id:032x}", "spanId": f"{context.span_id:016x}"}
