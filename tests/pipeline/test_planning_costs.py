"""The planner service against an LLM that keeps answering invalidly: a first planning fails the
job, a regeneration keeps the storyboard in review, and either way the calls it paid for are in
the job's cost (the event says how many tokens; the read model adds them up)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from adpipe.domain.job import RequestSceneRegeneration
from adpipe.events.catalogue import Metadata
from adpipe.events.job import JobFailed, RegenerationFailed, ScenesGenerated
from adpipe.jobs import execute, job_stream, load_job
from adpipe.settings import PlannerSettings, Settings
from testkit.core import eventually
from testkit.jobs import create_job, wait_for_status
from testkit.llm import PROMPT_TOKENS, FakeOpenAI, completion, serve
from testkit.stack import RunningStack, running_stack

ATTEMPTS = 2
NOT_A_STORYBOARD = completion({"scenes": "no"})
GOOD = completion(
    {
        "scenes": [
            {
                "sceneNumber": number,
                "duration": 10.0,
                "description": f"Scene {number}",
                "script": f"Line {number}.",
                "shotType": "Wide",
                "transition": "Cut",
                "assets": [],
            }
            for number in (1, 2, 3)
        ]
    }
)


@pytest.fixture
async def llm(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeOpenAI]:
    async with serve() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")  # litellm's own variable
        yield fake


@pytest.fixture
def settings(settings: Settings, llm: FakeOpenAI) -> Settings:
    """The planner reaches the fake LLM (settings are read once, so it is named here)."""
    planner = PlannerSettings(
        model="openai/gpt-4o-mini",
        api_base=llm.url,
        max_attempts=ATTEMPTS,
        retry_base_delay=0.001,
    )
    return msgspec.structs.replace(settings, planner=planner)


async def planning_cost(stack: RunningStack, job_id: str) -> float:
    async with stack.core.pool.connection() as conn:
        cursor = await conn.execute("SELECT cost_planning FROM jobs WHERE id = %s", (job_id,))
        row = await cursor.fetchone()
    return float(row[0]) if row is not None else -1.0


async def test_a_planning_that_never_succeeds_fails_the_job_and_keeps_its_cost(
    settings: Settings, llm: FakeOpenAI
) -> None:
    llm.play(NOT_A_STORYBOARD, repeat_last=True)
    async with running_stack(settings, ["planner"]) as stack:
        job_id = await create_job(stack, [])
        state = await wait_for_status(stack, job_id, "failed", "storyboard_review", within=60)
        events = [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]
        failed = next(e for e in events if isinstance(e, JobFailed))

        async def projected() -> bool:
            return await planning_cost(stack, job_id) == pytest.approx(state.cost.planning)

        await eventually(projected)

    assert state.status == "failed" and state.error is not None
    assert state.error.code == "planning_failed" and state.error.stage == "planning"
    assert len(llm.requests) == ATTEMPTS
    assert failed.usage.prompt_tokens == ATTEMPTS * PROMPT_TOKENS
    assert failed.usage.cost > 0 and state.cost.planning == pytest.approx(failed.usage.cost)


async def test_a_failed_regeneration_keeps_the_storyboard_and_adds_its_cost(
    settings: Settings, llm: FakeOpenAI
) -> None:
    llm.play(GOOD, NOT_A_STORYBOARD, repeat_last=True)
    async with running_stack(settings, ["planner"]) as stack:
        job_id = await create_job(stack, [])
        planned = await wait_for_status(stack, job_id, "storyboard_review", "failed", within=60)
        assert planned.status == "storyboard_review", planned.error
        await execute(
            stack.core.store,
            job_id,
            RequestSceneRegeneration(scene_number=2, feedback="brighter"),
            Metadata(actor="user:u1"),
        )

        async def regeneration_failed() -> bool:
            events = await stack.core.store.read_stream(job_stream(job_id))
            return any(isinstance(e.data, RegenerationFailed) for e in events)

        await eventually(regeneration_failed, within=60)
        state = await load_job(stack.core.store, job_id)
        events = [e.data for e in await stack.core.store.read_stream(job_stream(job_id))]

    first = next(e for e in events if isinstance(e, ScenesGenerated))
    failed = next(e for e in events if isinstance(e, RegenerationFailed))
    assert state.status == "storyboard_review" and state.scenes == planned.scenes
    assert failed.scene_number == 2 and failed.usage.prompt_tokens == ATTEMPTS * PROMPT_TOKENS
    assert state.cost.planning == pytest.approx(first.usage.cost + failed.usage.cost)
    assert failed.usage.cost > 0
