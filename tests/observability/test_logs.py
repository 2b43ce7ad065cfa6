"""ADPIPE_LOG_FORMAT=json: every line one JSON object; a job's lines carry its id in every role
that touched it, and the API's request id is the one in its answer, its log and its events."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from adpipe.jobs import job_stream
from adpipe.observability.logs import configure_logging
from adpipe.settings import Settings, load_settings
from testkit.api_stack import api_stack, run_job

from .conftest import Media

REQUIRED = ("time", "level", "role", "logger", "message")


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer, as a role does with ADPIPE_LOG_FORMAT."""
    monkeypatch.setenv("ADPIPE_LOG_FORMAT", "json")
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(log_format=load_settings().log_format, role="test", stream=out)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parse(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        assert all(key in line for key in REQUIRED), line
    return lines


async def test_a_jobs_json_lines_carry_its_id_in_every_role_and_one_request_id_links_them(
    settings: Settings, media: Media, http: aiohttp.ClientSession, json_log: io.StringIO
) -> None:
    services = ["downloader", "planner", "voice", "renderer"]
    async with api_stack(settings, http, services) as api:
        run = await run_job(api.user, f"{media.base}/product.jpg")
        events = await api.stack.core.store.read_stream(job_stream(run.job_id))
    lines = parse(json_log.getvalue())

    about_job = [line for line in lines if line.get("jobId") == run.job_id]
    roles = {line["role"] for line in about_job}
    assert {"api", "downloader", "planner", "renderer"} <= roles, roles
    # Any line that names the job in its text is tagged with it too.
    mentioning = [line for line in lines if run.job_id in line["message"]]
    assert mentioning and all(line.get("jobId") == run.job_id for line in mentioning), mentioning
    assert all(line.get("userId") == "alice" for line in about_job if line["role"] == "api")

    # The request id the API answered with is on its log line and in the event it appended.
    request_id = run.create.headers["X-Request-ID"]
    [create_line] = [
        line
        for line in about_job
        if line["logger"] == "adpipe.api.access"
        and line["message"].startswith("POST /api/v3/jobs ")
    ]
    assert create_line["requestId"] == request_id
    created = events[0]
    assert created.type == "job.created" and created.metadata.request_id == request_id
    # The services' lines about the work that request caused carry it on, as does their
    # events' correlation id: one grep for the request id finds the planning too.
    planner_lines = [line for line in about_job if line["role"] == "planner"]
    assert planner_lines and all(line["requestId"] == request_id for line in planner_lines)
    storyboard = next(e for e in events if e.type == "job.scenes_generated")
    assert storyboard.metadata.correlation_id == request_id

    approve_id = run.approve.headers["X-Request-ID"]
    # The render's lines carry the approval's request (the renderer also looks at each narration
    # as it lands, in case it is the last one an approved job waits for: those carry theirs).
    renderer_lines = [
        line
        for line in about_job
        if line["role"] == "renderer" and "job.narration_synthesized" not in line["message"]
    ]
    assert renderer_lines and all(line["requestId"] == approve_id for line in renderer_lines)
    assert all(line["eventId"] for line in renderer_lines + planner_lines)
