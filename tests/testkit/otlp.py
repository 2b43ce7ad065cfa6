"""A local OTLP/HTTP trace receiver on 127.0.0.1: decodes `ExportTraceServiceRequest` protobufs
posted to /v1/traces and keeps their spans, flattened, for assertions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from testkit.loopback import serve_app

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass
class Span:
    name: str
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: str
    attributes: dict[str, object]
    links: list[tuple[str, str]]  # (trace id, span id)
    start_ns: int
    end_ns: int


@dataclass
class Receiver:
    endpoint: str = ""
    spans: list[Span] = field(default_factory=list)
    requests: int = 0

    def by_id(self) -> dict[str, Span]:
        return {s.span_id: s for s in self.spans}

    def ancestors(self, span: Span) -> list[Span]:
        """The parent chain of `span` as far as received spans reach, nearest first."""
        index, chain = self.by_id(), []
        while span.parent_id and span.parent_id in index:
            span = index[span.parent_id]
            chain.append(span)
        return chain

    async def _handle(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf", request.content_type
        export = ExportTraceServiceRequest.FromString(await request.read())
        self.requests += 1
        for resource_spans in export.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        Span(
                            name=span.name,
                            service=service,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            kind=KINDS.get(span.kind, str(span.kind)),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=[
                                (link.trace_id.hex(), link.span_id.hex()) for link in span.links
                            ],
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


def _value(value: object) -> object:
    kind = value.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(value, kind) if kind else None


@contextlib.asynccontextmanager
async def otlp_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver._handle)
    async with serve_app(app) as receiver.endpoint:
        yield receiver
