"""Poison work fails once, not five times: a message that kills its process is failed after
`max_crashes` crashes, and a handler past its deadline is stopped and retried or failed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import pytest

from adpipe.context import Core
from adpipe.jobs import execute, load_job
from adpipe.sandbox import ChildLimits, Sandbox
from adpipe.storage.attempts import PostgresAttemptJournal
from adpipe.worker import Crashed, Delivery, ServiceSpec, fail_job_when_exhausted
from testkit import sandbox_targets as targets
from testkit.core import eventually, spawn
from testkit.services import new_job, run_service

CRASHER = str(Path(__file__).resolve().parents[1] / "testkit" / "crashing_service.py")


def markers(folder: Path, prefix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix))


async def job_status(core: Core, job_id: str = "j1") -> str:
    return (await load_job(core.store, job_id)).status


async def wait_for(proc: subprocess.Popen[bytes], core: Core) -> None:
    """Until the process died or the job failed."""

    async def ended() -> bool:
        return proc.poll() is not None or await job_status(core) == "failed"

    await eventually(ended, within=60)


@pytest.mark.slow
async def test_a_message_that_kills_its_process_fails_the_job_after_two_crashes(
    core: Core, nats_url: str, relay: None, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": core.settings.database_url, "NATS_URL": nats_url}
    await execute(core.store, "j1", new_job())
    instances: list[subprocess.Popen[bytes]] = []
    try:
        # A supervisor's part: start the service again each time it dies, up to five times.
        while len(instances) < 5 and await job_status(core) != "failed":
            log = tmp_path / f"instance-{len(instances)}.log"
            instances.append(spawn([CRASHER, str(tmp_path)], env, log))
            await wait_for(instances[-1], core)
        assert await job_status(core) == "failed"
        survivor = instances[-1]
        await asyncio.sleep(4)  # two ack deadlines: a message not termed would come back
        assert survivor.poll() is None, "the instance that failed the job must not crash"
    finally:
        for proc in instances:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    assert len(instances) == 3, "two crashed, the third failed the job"
    assert [p.returncode for p in instances[:2]] == [-signal.SIGKILL] * 2
    assert len(markers(tmp_path, "started-")) == 2, "the handler ran exactly twice"
    error = (await load_job(core.store, "j1")).error
    assert error is not None
    assert error.code == "crashed"
    assert error.message.startswith(
        "the crasher process crashed twice while handling this job: attempt 1 died mid-work"
    )
    assert "attempt 2 died mid-work" in error.message


async def test_work_that_crashes_its_child_twice_fails_the_job_with_the_childs_reason(
    core: Core, nats_url: str, relay: None
) -> None:
    attempts: list[int] = []

    async def decode(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise Crashed("decoding the file was killed by SIGSEGV")

    spec = ServiceSpec(
        name="decoder",
        subjects=["adpipe.job.created"],
        handle=decode,
        on_exhausted=fail_job_when_exhausted(core.store, "download"),
        backoff=(0.1,),
        journal=PostgresAttemptJournal(core.pool),
        max_crashes=2,
    )
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(spec, nats_url, stop))
    await execute(core.store, "j1", new_job())

    async def failed() -> bool:
        return await job_status(core) == "failed"

    await eventually(failed, within=30)
    await asyncio.sleep(1)
    stop.set()
    await service
    assert attempts == [1, 2], "max_deliver is 5, but two crashes are the bound"
    error = (await load_job(core.store, "j1")).error
    assert error is not None and error.code == "crashed"
    assert error.message == (
        "the decoder process crashed twice while handling this job:"
        " attempt 1: decoding the file was killed by SIGSEGV;"
        " attempt 2: decoding the file was killed by SIGSEGV"
    )
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM service_attempts")
        assert await cur.fetchone() == (0,), "a settled event leaves no journal rows"


async def test_a_handler_past_its_deadline_is_stopped_and_the_job_fails_when_retries_end(
    core: Core, nats_url: str, relay: None
) -> None:
    attempts: list[int] = []

    async def hang(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        await asyncio.sleep(3600)

    spec = ServiceSpec(
        name="hanger",
        subjects=["adpipe.job.created"],
        handle=hang,
        on_exhausted=fail_job_when_exhausted(core.store, "planning"),
        max_deliver=2,
        backoff=(0.1,),
        # Heartbeats every 1/3 s would keep the message forever without a deadline.
        ack_wait=1.0,
        journal=PostgresAttemptJournal(core.pool),
        deadline=1.5,
    )
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(spec, nats_url, stop))
    await execute(core.store, "j1", new_job())

    async def failed() -> bool:
        return await job_status(core) == "failed"

    await eventually(failed, within=30)
    stop.set()
    await service
    assert attempts == [1, 2]
    error = (await load_job(core.store, "j1")).error
    assert error is not None
    assert error.message == (
        "gave up after 2 attempts: the handler ran past its deadline of 1.5 s and was stopped"
    )


async def test_cpu_bound_work_in_a_sandbox_is_killed_at_the_deadline_and_retried(
    core: Core, nats_url: str, relay: None, tmp_path: Path
) -> None:
    attempts: list[int] = []
    sandbox = Sandbox(ChildLimits())

    async def render(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if delivery.attempt == 1:  # the first try hangs in its child; the retry works
            await sandbox.run(targets.sleep_forever, str(tmp_path / "pid"))

    spec = ServiceSpec(
        name="engine",
        subjects=["adpipe.job.created"],
        handle=render,
        backoff=(0.1,),
        journal=PostgresAttemptJournal(core.pool),
        deadline=5.0,  # time for the child to start and note its pid, even on a busy machine
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(spec, nats_url, stop))
    await execute(core.store, "j1", new_job())

    async def retried() -> bool:
        return len(attempts) >= 2

    await eventually(retried, within=30)
    await asyncio.sleep(0.5)
    stop.set()
    await runner
    assert attempts == [1, 2]
    child = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{child}").exists(), "the child was killed with its handler"
    assert await job_status(core) != "failed"


async def test_on_stop_a_long_handler_is_handed_back_at_once_and_not_counted_as_a_crash(
    core: Core, nats_url: str, relay: None
) -> None:
    attempts: list[int] = []

    async def long_work(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if delivery.attempt == 1:
            await asyncio.sleep(3600)

    def spec() -> ServiceSpec:
        return ServiceSpec(
            name="long",
            subjects=["adpipe.job.created"],
            handle=long_work,
            ack_wait=60.0,  # a handed-back message comes back at once, not after this
            journal=PostgresAttemptJournal(core.pool),
            drain_seconds=0.5,
        )

    stop = asyncio.Event()
    first = asyncio.create_task(run_service(spec(), nats_url, stop))
    await execute(core.store, "j1", new_job())

    async def started() -> bool:
        return attempts == [1]

    await eventually(started, within=30)
    stop.set()
    await first  # returns after drain_seconds, not after the hour
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM service_attempts")
        assert await cur.fetchone() == (0,), "the stopped attempt was settled, not left to count"

    again = asyncio.Event()
    second = asyncio.create_task(run_service(spec(), nats_url, again))

    async def redelivered() -> bool:
        return attempts == [1, 2]

    await eventually(redelivered, within=20)
    again.set()
    await second
    assert await job_status(core) != "failed"
