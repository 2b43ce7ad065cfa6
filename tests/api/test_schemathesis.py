"""Fuzzing the API with schemathesis against its own OpenAPI: no request may answer 5xx, and
every answer must match the documented status codes, content types and schemas."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from adpipe.context import Core
from testkit.fuzz import run_schemathesis

from .conftest import Client, Pipeline, job_body, new_client, serving


@pytest.fixture
def settings_overrides() -> dict[str, float]:
    # Jobs created by the fuzzer answer 202 quickly instead of waiting for their storyboard.
    # Every check runs, positive_data_acceptance included: the fuzzer's burst must not meet the
    # per-user request rate (a 429 would hide what the check is there to see).
    return {"storyboard_wait_seconds": 0.5, "requests_per_second_per_user": 10_000.0}


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_no_request_answers_5xx_or_breaks_the_schema(
    core: Core, alice: Client, pipeline: Pipeline, tmp_path: Path
) -> None:
    # The fuzzer's asset URLs name any host on earth; fetching them would leave 127.0.0.1. Its
    # URL assets and jobs wait for the downloader instead, and the jobs it approves for the
    # renderer (up to 120 s of 1080p each): what is fuzzed here is the API's answers.
    await asyncio.gather(pipeline.pause("downloader"), pipeline.pause("renderer"))
    # Real data for the fuzzer to stumble on: a client and a job.
    client_id = await new_client(alice)
    assert (await alice.post("/api/v3/jobs", json=job_body(client_id))).status in (201, 202)
    # The routes of this API only: webhooks and live updates are fuzzed by their own tests.
    async with serving(core, extra_route_handlers=()) as base_url:
        await _fuzz(base_url, str(alice.key), tmp_path)


# The one rule /schema cannot state: an uploaded file's bytes must be a readable image, video or
# audio file of the asset's type (the fuzzer sends sample PNG, PDF and ZIP files and random bytes
# under any `type`). For that operation alone, "schema-valid data is accepted" also takes the 422
# naming `file`; every other check, and every other operation, keeps schemathesis's defaults.
UPLOAD_CONTENT = """
[[operations]]
include-path = "/api/v3/assets"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx",
]
"""


async def _fuzz(base_url: str, key: str, tmp_path: Path) -> None:
    phases = os.environ.get("ADPIPE_FUZZ_PHASES", "examples,coverage,fuzzing,stateful")
    (tmp_path / "schemathesis.toml").write_text(UPLOAD_CONTENT)
    await run_schemathesis(base_url, key, tmp_path, "--phases", phases)
