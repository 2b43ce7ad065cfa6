"""With OTEL_EXPORTER_OTLP_ENDPOINT set, one trace follows a job from the API request that created
it through the relay, the planner and — after the approval — the renderer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adpipe.jobs import job_stream
from adpipe.observability import tracing
from adpipe.settings import Settings, load_settings
from testkit.api_stack import api_stack, run_job
from testkit.otlp import Receiver, otlp_receiver

from .conftest import Media


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """The local OTLP receiver, and this process's tracer configured from the standard variable
    the way a role's `observability.setup` does."""
    async with otlp_receiver() as received:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", received.endpoint)
        endpoint = load_settings().otlp_traces_endpoint
        assert endpoint == f"{received.endpoint}/v1/traces"
        assert tracing.configure(endpoint, service_name="adpipe-test")
        try:
            yield received
        finally:
            # The exporter posts from its own thread to a server on this loop: never block it.
            await asyncio.to_thread(tracing.shutdown)


async def test_one_trace_links_the_api_request_to_the_planner_and_the_renderer(
    settings: Settings, media: Media, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    async with api_stack(settings, http, ["downloader", "planner", "voice", "renderer"]) as api:
        run = await run_job(api.user, f"{media.base}/product.jpg")
        events = await api.stack.core.store.read_stream(job_stream(run.job_id))
    assert await asyncio.to_thread(tracing.flush)
    spans = receiver.spans

    [create] = [s for s in spans if s.kind == "server" and s.name == "POST /api/v3/jobs"]
    assert create.attributes["adpipe.request_id"] == run.create.headers["X-Request-ID"]
    assert create.attributes["http.response.status_code"] == 201
    [render] = [s for s in spans if s.name == "renderer job.approved"]
    assert render.kind == "consumer" and render.trace_id == create.trace_id

    # The renderer's span descends from the request that created the job, through the approval
    # command and the relay's publish of job.approved.
    chain = receiver.ancestors(render)
    assert chain[-1] == create, [s.name for s in chain]
    names = [s.name for s in chain]
    assert names[0] == "publish job.approved" and "job Approve" in names

    # The approval came in its own request: its span is linked from the job's Approve command.
    [approve_request] = [
        s for s in spans if s.kind == "server" and s.name == "POST /api/v3/jobs/{job_id}/actions"
    ]
    [approve] = [s for s in chain if s.name == "job Approve"]
    assert (approve_request.trace_id, approve_request.span_id) in approve.links
    assert approve_request.attributes["adpipe.job_id"] == run.job_id

    # Planning is in the same trace, below the same request.
    planned = [s for s in spans if s.name == "job RecordStoryboard"]
    assert planned and all(s.trace_id == create.trace_id for s in planned)
    assert create in receiver.ancestors(planned[0])

    # Every event of the job carries the trace in its metadata.
    assert all(tracing.trace_id_of(e.metadata.traceparent) == create.trace_id for e in events)


def test_with_no_endpoint_tracing_is_off_and_the_sdk_is_never_imported() -> None:
    code = (
        "import sys\n"
        "from adpipe.observability import setup, tracing\n"
        "from adpipe.settings import load_settings\n"
        "import adpipe.api.app, adpipe.worker, adpipe.relay, adpipe.storage.eventstore\n"
        "from adpipe.events.catalogue import Metadata\n"
        "setup(load_settings(), 'planner')\n"
        "meta = Metadata()\n"
        "assert tracing.stamp(meta) is meta and not tracing.enabled()\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
