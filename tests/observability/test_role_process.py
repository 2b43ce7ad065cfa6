"""A worker role as its own process (`adpipe service planner`), as deployments run it: its metrics
port answers with its consumer's backlog, and its stderr is JSON lines naming the job it planned."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp

from adpipe.observability.serve import REPLICA_STRIDE, role_port
from adpipe.runtime.ports import port_is_free
from adpipe.settings import Settings
from testkit.core import eventually, spawn
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.stack import running_stack

from .conftest import Media
from .scrape import scrape, series, value


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_planner_process_serves_its_metrics_port_and_logs_json_lines(
    settings: Settings, media: Media, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    base = next(
        port
        for port in range(21_000, 60_000, 89)
        if port_is_free(port + 3) and port_is_free(port + 3 + REPLICA_STRIDE)
    )
    env = {
        "DATABASE_URL": settings.database_url,
        "NATS_URL": settings.nats_url,
        "ADPIPE_METRICS_PORT": str(base),
        "ADPIPE_LOG_FORMAT": "json",
    }
    log = tmp_path / "planner.log"
    async with running_stack(settings, ["downloader"]) as stack:
        planner = spawn(["-m", "adpipe.cli", "service", "planner"], env, log)
        try:
            url = f"http://127.0.0.1:{role_port(base, 'planner')}/metrics"

            async def serving() -> bool:
                lines = log.read_text().splitlines() if log.exists() else []
                return any(f"metrics of planner on {url}" in line for line in lines)

            await eventually(serving, within=60)
            job_id = await create_job(stack, [url_asset(f"{media.base}/product.jpg")], duration=6)
            state = await wait_for_status(stack, job_id, "storyboard_review", "failed", within=60)
            assert state.status == "storyboard_review", state.error
            samples = await scrape(http, url)
        finally:
            planner.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(planner.wait, 30)
    assert code == 0, log.read_text()[-3000:]

    consumers = series(samples, "adpipe_jetstream_consumer_pending_messages")
    assert {"stream": "ADPIPE", "consumer": "planner"} in consumers
    # This process's registry: the planner's work, and none of the downloader's (another process).
    assert value(samples, "adpipe_service_deliveries_total", service="planner", outcome="ok") >= 1
    assert value(samples, "adpipe_service_deliveries_total", service="downloader") == 0
    assert value(samples, "adpipe_events_appended_total", type="job.scenes_generated") == 1

    lines = json_lines(log)  # every line of the process's output parses
    assert all(line["role"] == "planner" for line in lines), {line["role"] for line in lines}
    handled = [line for line in lines if line.get("jobId") == job_id]
    assert handled and all(line["eventId"] and line["logger"] for line in handled)
