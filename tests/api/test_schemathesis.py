"""Fuzzing the API with schemathesis against its own OpenAPI: no request may answer 5xx, and
every answer must match the documented status codes, content types and schemas."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from adpipe.context import Core

from .conftest import Client, job_body, new_client, serving

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
MAX_EXAMPLES = int(os.environ.get("ADPIPE_FUZZ_EXAMPLES", "8"))


@pytest.fixture
def settings_overrides() -> dict[str, float]:
    # Jobs created by the fuzzer answer 202 quickly instead of waiting for their storyboard.
    return {"storyboard_wait_seconds": 0.5}


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_no_request_answers_5xx_or_breaks_the_schema(
    core: Core, alice: Client, tmp_path: Path
) -> None:
    # Real data for the fuzzer to stumble on: a client and a job.
    client_id = await new_client(alice)
    assert (await alice.post("/api/v3/jobs", json=job_body(client_id))).status in (201, 202)
    # The routes of this API only: webhooks and live updates are fuzzed by their own tests.
    async with serving(core, extra_route_handlers=()) as base_url:
        await _fuzz(base_url, str(alice.key), tmp_path)


async def _fuzz(base_url: str, key: str, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    process = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{base_url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        os.environ.get("ADPIPE_TEST_SEED", "1"),
        "--workers",
        "1",
        "--phases",
        os.environ.get("ADPIPE_FUZZ_PHASES", "examples,coverage,fuzzing,stateful"),
        "--request-timeout",
        "30",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        "--max-failures",
        "20",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-20000:]
