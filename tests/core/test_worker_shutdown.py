"""The service runner's concurrency: at most `concurrency` handlers at once, and a stop that
waits for in-flight work up to the drain deadline, then hands back what is still running."""

from __future__ import annotations

import asyncio

from adpipe.context import Core
from adpipe.jobs import execute
from adpipe.storage.attempts import PostgresAttemptJournal
from adpipe.worker import Delivery, Handler, ServiceSpec
from testkit.core import eventually
from testkit.services import new_job, run_service


def spec(
    core: Core, name: str, handle: Handler, *, concurrency: int, drain_seconds: float
) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        subjects=["adpipe.job.created"],
        handle=handle,
        ack_wait=60.0,  # a handed-back message comes back at once, not after this
        concurrency=concurrency,
        journal=PostgresAttemptJournal(core.pool),
        drain_seconds=drain_seconds,
    )


async def test_handlers_run_at_most_concurrency_at_once(
    core: Core, nats_url: str, relay: None
) -> None:
    active, most, done = 0, 0, []

    async def work(delivery: Delivery) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.3)
        active -= 1
        done.append(delivery.envelope.stream)

    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_service(spec(core, "capped", work, concurrency=2, drain_seconds=5), nats_url, stop)
    )
    for n in range(6):
        await execute(core.store, f"j{n}", new_job(f"j{n}"))

    async def all_done() -> bool:
        return len(done) == 6

    await eventually(all_done, within=30)
    stop.set()
    await runner
    assert most == 2


async def test_stop_waits_for_in_flight_work_within_the_drain_deadline(
    core: Core, nats_url: str, relay: None
) -> None:
    started: list[str] = []
    finished: list[str] = []
    release = asyncio.Event()

    async def work(delivery: Delivery) -> None:
        started.append(delivery.envelope.stream)
        await release.wait()
        finished.append(delivery.envelope.stream)

    def service() -> ServiceSpec:
        return spec(core, "draining", work, concurrency=1, drain_seconds=30)

    stop = asyncio.Event()
    first = asyncio.create_task(run_service(service(), nats_url, stop))
    await execute(core.store, "j1", new_job("j1"))
    await execute(core.store, "j2", new_job("j2"))  # waits for the one slot

    async def one_started() -> bool:
        return len(started) == 1

    await eventually(one_started, within=30)
    stop.set()
    await asyncio.sleep(1.0)
    assert not first.done(), "the runner stopped without waiting for its handler"
    release.set()
    async with asyncio.timeout(10):
        await first
    assert finished == started, "the in-flight handler finished before the runner returned"

    # It was acked: a new instance gets only the message that was never started.
    again = asyncio.Event()
    second = asyncio.create_task(run_service(service(), nats_url, again))

    async def both_done() -> bool:
        return len(finished) == 2

    await eventually(both_done, within=30)
    await asyncio.sleep(0.5)  # a wrongful redelivery of the first would show up here
    again.set()
    await second
    assert sorted(started) == ["job-j1", "job-j2"]
    assert finished == started


async def test_work_still_running_at_the_drain_deadline_is_cancelled_and_redelivered(
    core: Core, nats_url: str, relay: None
) -> None:
    attempts: list[tuple[str, int]] = []
    cancelled: list[str] = []

    async def work(delivery: Delivery) -> None:
        attempts.append((delivery.envelope.stream, delivery.attempt))
        if delivery.attempt == 1:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append(delivery.envelope.stream)
                raise

    def service() -> ServiceSpec:
        # One slot, busy with the long handler: the stop must be noticed all the same.
        return spec(core, "deadline", work, concurrency=1, drain_seconds=0.5)

    stop = asyncio.Event()
    first = asyncio.create_task(run_service(service(), nats_url, stop))
    await execute(core.store, "j1", new_job("j1"))

    async def started() -> bool:
        return len(attempts) == 1

    await eventually(started, within=30)
    stop.set()
    async with asyncio.timeout(15):  # the drain deadline, not the hour
        await first
    assert cancelled == ["job-j1"]

    again = asyncio.Event()
    second = asyncio.create_task(run_service(service(), nats_url, again))

    async def redelivered() -> bool:
        return len(attempts) == 2

    await eventually(redelivered, within=20)
    again.set()
    await second
    # Handed back, not counted: the redelivery is the first real attempt's retry, not a crash.
    assert attempts == [("job-j1", 1), ("job-j1", 2)]
