"""The service runtime: redelivery after a crash, bounded retries, and a final job.failed."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from adpipe.context import Core
from adpipe.events.party import ClientCreated, ClientProfile, ClientUpdated
from adpipe.jobs import execute, load_job
from adpipe.worker import (
    Delivery,
    Permanent,
    ServiceSpec,
    fail_job_when_exhausted,
)
from testkit.core import eventually, spawn
from testkit.services import new_job, run_service

ECHO = str(Path(__file__).resolve().parents[1] / "testkit" / "echo_service.py")


async def updates(core: Core, stream: str) -> list[ClientUpdated]:
    return [
        e.data for e in await core.store.read_stream(stream) if isinstance(e.data, ClientUpdated)
    ]


async def wait_for_file(folder: Path, prefix: str) -> None:
    async def present() -> bool:
        return any(p.name.startswith(prefix) for p in folder.iterdir())

    await eventually(present, within=60)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hang", "exit-after-effect"])
async def test_a_handler_process_killed_mid_message_is_redelivered_and_acts_once(
    core: Core, nats_url: str, relay: None, tmp_path: Path, mode: str
) -> None:
    env = {"DATABASE_URL": core.settings.database_url, "NATS_URL": nats_url}
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = spawn([ECHO, mode, str(first_dir)], env, tmp_path / "a.log")
    second = None
    try:
        await wait_for_file(first_dir, "ready-")
        created = ClientCreated(client_id="c1", user_id="u1", profile=ClientProfile(name="A"))
        await core.store.append("client-c1", [created], 0)
        await wait_for_file(first_dir, "started-")
        if mode == "hang":
            first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = spawn([ECHO, "normal", str(second_dir)], env, tmp_path / "b.log")
        await wait_for_file(second_dir, "started-")  # the redelivery reached the new instance

        async def done() -> bool:
            return len(await updates(core, "client-c1")) >= 1

        await eventually(done, within=60)
        await asyncio.sleep(3)  # past another ack deadline: nothing more may happen
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    effects = await updates(core, "client-c1")
    assert len(effects) == 1, f"the effect happened {len(effects)} times"
    doer = first.pid if mode == "exit-after-effect" else second.pid  # type: ignore[union-attr]
    assert effects[0].profile.name == f"handled by {doer}"


async def test_when_retries_are_spent_the_job_fails_with_the_reason(
    core: Core, nats_url: str, relay: None
) -> None:
    attempts: list[int] = []

    async def always_broken(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise RuntimeError("the provider said no")

    spec = ServiceSpec(
        name="broken",
        subjects=["adpipe.job.created"],
        handle=always_broken,
        on_exhausted=fail_job_when_exhausted(core.store, "planning"),
        max_deliver=3,
        backoff=(0.1, 0.2),
    )
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(spec, nats_url, stop))
    await execute(core.store, "j1", new_job())

    async def failed() -> bool:
        return (await load_job(core.store, "j1")).status == "failed"

    await eventually(failed, within=30)
    await asyncio.sleep(1)
    stop.set()
    await service
    state = await load_job(core.store, "j1")
    assert attempts == [1, 2, 3]
    assert state.error is not None
    assert "gave up after 3 attempts" in state.error.message
    assert "the provider said no" in state.error.message
    assert state.error.stage == "planning"


async def test_a_permanent_failure_fails_the_job_at_once(
    core: Core, nats_url: str, relay: None
) -> None:
    attempts: list[int] = []

    async def corrupt(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise Permanent("the clip is not a video", code="invalid_asset")

    spec = ServiceSpec(
        name="corrupt",
        subjects=["adpipe.job.created"],
        handle=corrupt,
        on_exhausted=fail_job_when_exhausted(core.store, "download"),
    )
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(spec, nats_url, stop))
    await execute(core.store, "j1", new_job())

    async def failed() -> bool:
        return (await load_job(core.store, "j1")).status == "failed"

    await eventually(failed, within=30)
    stop.set()
    await service
    state = await load_job(core.store, "j1")
    assert attempts == [1]
    assert state.error is not None and state.error.code == "invalid_asset"
