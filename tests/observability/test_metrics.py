"""A job through the real API and services moves the metrics an operator watches: on the API's
/metrics and on a worker role's metrics port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
from aiohttp import web

from adpipe.observability.serve import start_metrics_server
from adpipe.settings import PlannerSettings, Settings
from testkit.api_stack import API, api_stack, run_job
from testkit.core import eventually
from testkit.llm import FakeOpenAI, completion, serve
from testkit.loopback import serve_app

from .conftest import Media
from .scrape import moved, scrape, series, value

MODEL = "openai/gpt-4o-mini"
STORYBOARD = completion(
    {
        "scenes": [
            {
                "sceneNumber": n,
                "duration": 2.0,
                "description": f"Scene {n}",
                "script": f"Line {n}.",
                "shotType": "Wide",
                "transition": "Cut",
                "assets": [],
            }
            for n in (1, 2, 3)
        ]
    }
)


@pytest.fixture
async def llm(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAI]:
    async with serve() as fake:
        fake.play(STORYBOARD, repeat_last=True)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")  # litellm's own variable
        yield fake


@pytest.fixture
def settings(settings: Settings, llm: FakeOpenAI) -> Settings:
    """The planner reaches the fake LLM (settings are read once, so it is named here)."""
    planner = PlannerSettings(model=MODEL, api_base=llm.url)
    return msgspec.structs.replace(settings, planner=planner)


@pytest.fixture
async def hook_receiver() -> AsyncIterator[str]:
    """A webhook endpoint on 127.0.0.1 that takes everything."""

    async def take(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", take)
    async with serve_app(app) as base:
        yield f"{base}/hook"


async def test_a_job_moves_the_series_on_the_api_and_on_a_worker_metrics_port(
    settings: Settings,
    media: Media,
    http: aiohttp.ClientSession,
    llm: FakeOpenAI,
    hook_receiver: str,
) -> None:
    services = ["downloader", "planner", "voice", "renderer", "webhooks"]
    async with api_stack(settings, http, services) as api:
        worker = start_metrics_server(msgspec.structs.replace(settings, metrics_port=0), "renderer")
        assert worker is not None
        try:
            before_api = await scrape(http, f"{api.base}/metrics")
            before_worker = await scrape(http, worker.url)
            user = api.user
            hook = await user.call(
                "POST", f"{API}/webhooks", json={"url": hook_receiver, "events": ["job.*"]}
            )
            assert hook.status == 201, hook.body
            too_big = aiohttp.FormData()
            too_big.add_field("file", b"x" * 10_000, filename="big.png", content_type="image/png")
            refused = await user.call("POST", f"{API}/assets", data=too_big)
            assert refused.status == 413, refused.body

            run = await run_job(user, f"{media.base}/product.jpg")
            await user.call("GET", f"{API}/jobs/does-not-exist")

            async def delivered() -> bool:
                after = await scrape(http, worker.url)
                return moved(before_worker, after, "adpipe_webhook_deliveries_total") >= 1

            await eventually(delivered, within=30)
            after_api = await scrape(http, f"{api.base}/metrics")
            after_worker = await scrape(http, worker.url)
        finally:
            worker.close()

    # HTTP: by route template (never the raw path) and status, with a latency histogram.
    jobs_route = "/api/v3/jobs/{job_id}"
    assert (
        moved(
            before_api,
            after_api,
            "adpipe_http_requests_total",
            route="/api/v3/jobs",
            method="POST",
            status="201",
        )
        == 1
    )
    assert (
        moved(before_api, after_api, "adpipe_http_requests_total", route=jobs_route, status="200")
        >= 1
    )
    assert (
        moved(before_api, after_api, "adpipe_http_requests_total", route=jobs_route, status="404")
        == 1
    )
    assert (
        moved(
            before_api,
            after_api,
            "adpipe_http_requests_total",
            route="/api/v3/assets",
            status="413",
        )
        == 1
    )
    assert (
        moved(
            before_api,
            after_api,
            "adpipe_http_request_duration_seconds_count",
            route="/api/v3/jobs",
            method="POST",
        )
        == 1
    )
    assert not any(
        run.job_id in r["route"] for r in series(after_api, "adpipe_http_requests_total")
    )

    # The log: events appended by type, and how far its readers trail it.
    for event_type in (
        "job.created",
        "job.scenes_generated",
        "job.approved",
        "job.render_completed",
    ):
        assert moved(before_api, after_api, "adpipe_events_appended_total", type=event_type) >= 1
    projections = {s["projection"] for s in series(after_api, "adpipe_projection_lag_events")}
    assert {"jobs", "assets", "clients"} <= projections
    assert value(after_api, "adpipe_event_log_head_position") > 0
    assert ("adpipe_relay_lag_events", frozenset()) in after_api
    assert value(after_api, "adpipe_relay_lag_seconds") >= 0

    # Each service's consumer, read from JetStream at scrape time.
    consumers = {
        s["consumer"] for s in series(after_worker, "adpipe_jetstream_consumer_pending_messages")
    }
    assert {"downloader", "planner", "renderer"} <= consumers
    assert (
        moved(
            before_worker,
            after_worker,
            "adpipe_service_deliveries_total",
            service="renderer",
            type="job.approved",
            outcome="ok",
        )
        == 1
    )

    # Stages of the job, rendering speed, the LLM's calls, tokens and cost.
    for stage in ("created_to_storyboard", "approved_to_render_started", "approved_to_completed"):
        assert (
            moved(
                before_worker, after_worker, "adpipe_job_stage_duration_seconds_count", stage=stage
            )
            == 1
        )
    assert moved(before_worker, after_worker, "adpipe_jobs_finished_total", status="completed") == 1
    assert moved(before_worker, after_worker, "adpipe_render_frames_per_second_count") == 1
    assert moved(before_worker, after_worker, "adpipe_render_realtime_ratio_count") == 1
    assert moved(before_worker, after_worker, "adpipe_render_video_seconds_total") == pytest.approx(
        6.0, abs=0.1
    )
    assert (
        moved(before_worker, after_worker, "adpipe_llm_calls_total", model=MODEL, outcome="ok")
        == len(llm.requests)
        >= 1
    )
    assert moved(
        before_worker, after_worker, "adpipe_llm_tokens_total", model=MODEL, kind="prompt"
    ) == 1000 * len(llm.requests)
    assert moved(before_worker, after_worker, "adpipe_llm_cost_usd_total", model=MODEL) > 0

    # Webhooks by outcome; a limit's refusals.
    assert (
        moved(before_worker, after_worker, "adpipe_webhook_deliveries_total", outcome="delivered")
        >= 1
    )
    assert moved(before_api, after_api, "adpipe_limit_rejections_total", limit="upload_bytes") == 1
