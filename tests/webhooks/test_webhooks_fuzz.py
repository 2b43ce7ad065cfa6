"""Fuzzing /api/v3/webhooks and /api/v3/jobs/{id}/history|events with schemathesis against the
app's own OpenAPI: no 5xx, and every answer matches its documented status, type and schema."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from adpipe.api.keys import create_key
from adpipe.context import Core
from adpipe.net import guard
from adpipe.services.webhooks.dispatcher import Dispatcher
from adpipe.webhooks.manage import SubscribeRequest, Webhooks
from testkit.fuzz import run_schemathesis
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import fast_config, running_api


class LoopbackResolver:
    """Every host name is 127.0.0.1: the fuzzer's random hosts must never reach real DNS."""

    async def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"]


@pytest.fixture
def settings_overrides() -> dict[str, float]:
    # Every check runs, positive_data_acceptance included: the fuzzer's burst must not meet the
    # per-user request rate (a 429 would hide what the check is there to see).
    return {"requests_per_second_per_user": 10_000.0}


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_no_webhook_or_history_request_answers_5xx_or_breaks_the_schema(
    core: Core, read_model: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guard, "SystemResolver", LoopbackResolver)
    key = await create_key(core.pool, "alice")
    # Real ids for the fuzzer to reach past 404: a webhook with a delivery, a finished job.
    webhooks = Webhooks(core, config=fast_config())
    hook = await webhooks.subscribe(
        "alice", SubscribeRequest(url="http://127.0.0.1:9/hook", events=["*"])
    )
    await webhooks.send_test("alice", hook.id)
    await Dispatcher(core.store, core.pool).catch_up()
    (delivery,), _ = await webhooks.deliveries("alice", hook.id)
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice"))
    (tmp_path / "schemathesis.toml").write_text(
        f'[parameters]\nwebhook_id = "{hook.id}"\ndelivery_id = "{delivery.id}"\njob_id = "{job}"\n'
    )
    async with running_api(core) as base:
        text = await run_schemathesis(
            base,
            key,
            tmp_path,
            "--include-path-regex",
            r"^/api/v3/(webhooks|jobs/\{job_id\}/(history|events))",
        )
    # The filter reached the operations: schemathesis names paths only in warnings, so count
    # the operations it tested (the webhooks, their deliveries, history and events).
    tested = re.search(r"Tested: (\d+)", text)
    assert tested is not None and int(tested.group(1)) >= 10, text[-3000:]
