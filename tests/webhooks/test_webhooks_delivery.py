"""Delivery end to end: the real service signs, orders, retries and disables; a real receiver
verifies every call with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import uuid

from adpipe.context import Core
from adpipe.events.catalogue import stream_id
from adpipe.net import UrlGuard
from adpipe.services.webhooks.delivery import open_session
from adpipe.services.webhooks.dispatcher import Dispatcher
from adpipe.services.webhooks.sender import Sender
from adpipe.webhooks import outbox
from adpipe.webhooks.manage import UpdateRequest, Webhooks
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import StartService, eventually, fast_config, first_arrivals, subscribe
from webhooks.receiver import Receiver


async def test_receiver_verifies_only_its_users_events_in_order(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    await subscribe(webhooks, receiver, "alice", ["job.*"])
    await start_service()
    alice_jobs = [str(uuid.uuid4()) for _ in range(3)]
    bob_job = str(uuid.uuid4())
    results = await asyncio.gather(
        *(append_each(core.store, j, lifecycle(j, "alice")) for j in alice_jobs),
        append_each(core.store, bob_job, lifecycle(bob_job, "bob")),
    )
    expected = sorted((e for r in results[:3] for e in r), key=lambda e: e.position)

    await eventually(lambda: len(first_arrivals(receiver)) == len(expected))
    assert not receiver.rejected
    payloads = {p["id"]: p for p in receiver.payloads()}
    assert set(payloads) == {e.id for e in expected}  # nothing of bob's
    for call in receiver.calls:
        assert call.message_id == call.payload["id"]  # webhook-id is the event id
    # Body: the envelope in camelCase.
    completed = next(p for p in payloads.values() if p["type"] == "job.render_completed")
    assert completed["data"]["renderSeconds"] == 2.5 and "recordedAt" in completed
    for job_id in alice_jobs:
        stream = stream_id("job", job_id)
        positions = [payloads[i]["position"] for i in first_arrivals(receiver)]
        of_job = [
            p
            for i, p in zip(first_arrivals(receiver), positions, strict=True)
            if payloads[i]["stream"] == stream
        ]
        assert of_job == sorted(of_job)


async def test_failing_delivery_holds_back_only_its_own_job(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    await subscribe(webhooks, receiver, "alice", ["job.*"])
    await start_service(retry_schedule=(0.1,) * 100)
    held, free = str(uuid.uuid4()), str(uuid.uuid4())
    first = await append_each(core.store, held, lifecycle(held, "alice")[:1])
    receiver.failing.add(first[0].id)
    rest = await append_each(core.store, held, lifecycle(held, "alice")[1:3], after_version=1)
    other = await append_each(core.store, free, lifecycle(free, "alice")[:3])

    await eventually(lambda: {e.id for e in other} <= set(first_arrivals(receiver)))
    await asyncio.sleep(0.5)  # several retries of the held job's first event have failed
    arrived = first_arrivals(receiver)
    assert not {e.id for e in first + rest} & set(arrived)

    receiver.failing.clear()
    await eventually(lambda: {e.id for e in rest} <= set(first_arrivals(receiver)))
    arrived = first_arrivals(receiver)
    assert [i for i in arrived if i in {e.id for e in first + rest}] == [e.id for e in first + rest]


async def test_deliveries_resume_after_the_receiver_was_down(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    webhook_id = await subscribe(webhooks, receiver, "alice", ["*"])
    await start_service()
    job = str(uuid.uuid4())
    before = await append_each(core.store, job, lifecycle(job, "alice")[:3])
    await eventually(lambda: len(first_arrivals(receiver)) == 3)

    await receiver.stop()
    during = await append_each(core.store, job, lifecycle(job, "alice")[3:], after_version=3)

    async def failures_recorded() -> bool:
        deliveries, _ = await webhooks.deliveries("alice", webhook_id)
        return any(a.error for d in deliveries for a in d.attempts)

    await eventually(failures_recorded)
    await asyncio.sleep(1.0)  # down for a while: several attempts fail
    await receiver.start()

    everything = [e.id for e in before + during]
    await eventually(lambda: first_arrivals(receiver) == everything, within=30)
    deliveries, _ = await webhooks.deliveries("alice", webhook_id, page_size=100)
    assert {d.status for d in deliveries} == {"delivered"}
    retried = [d for d in deliveries if d.attempt_count > 1]
    assert retried, "some deliveries needed retries"
    failed_attempt = retried[0].attempts[0]
    assert failed_attempt.error and failed_attempt.status_code is None
    assert failed_attempt.next_retry_at is not None
    assert retried[0].attempts[-1].status_code == 204
    assert (await webhooks.get("alice", webhook_id)).enabled


async def test_an_endpoint_failing_for_the_configured_span_is_disabled(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    webhook_id = await subscribe(webhooks, receiver, "alice", ["job.*"], path="/broken")
    watcher = await subscribe(webhooks, receiver, "alice", ["webhook.*"], path="/watch")
    receiver.answers["/broken"] = 503
    await start_service(disable_after_seconds=1.0, retry_schedule=(0.2,) * 50)
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:2])

    async def disabled() -> bool:
        return not (await webhooks.get("alice", webhook_id)).enabled

    await eventually(disabled, within=30)
    view = await webhooks.get("alice", webhook_id)
    assert view.disabled_reason and "HTTP 503" in view.disabled_reason
    events = await core.store.read_stream(stream_id("webhook", webhook_id))
    assert events[-1].type == "webhook.disabled"
    assert events[-1].metadata.actor == "system:webhooks"
    # The user's other webhook hears about it, and the list shows it.
    await eventually(
        lambda: any(p["type"] == "webhook.disabled" for p in receiver.payloads("/watch"))
    )
    listed = {w.id: w for w in (await webhooks.list_webhooks("alice"))[0]}
    assert not listed[webhook_id].enabled and listed[watcher].enabled
    # Nothing more is attempted, and pending deliveries were closed as failed.
    deliveries, _ = await webhooks.deliveries("alice", webhook_id)
    assert {d.status for d in deliveries} == {"failed"}
    attempts = sum(d.attempt_count for d in deliveries)
    await asyncio.sleep(0.6)
    again, _ = await webhooks.deliveries("alice", webhook_id)
    assert sum(d.attempt_count for d in again) == attempts

    # Re-enabled after the receiver is fixed, and resent by hand: it gets through.
    receiver.answers["/broken"] = 200
    await webhooks.update("alice", webhook_id, UpdateRequest(enabled=True))
    await webhooks.retry_delivery("alice", webhook_id, deliveries[-1].id)
    await eventually(lambda: len(receiver.payloads("/broken")) >= 1)
    assert receiver.payloads("/broken")[0]["type"] == "job.created"


async def test_a_crashed_senders_delivery_goes_out_once_its_lease_ends(
    core: Core, webhooks: Webhooks, receiver: Receiver
) -> None:
    await subscribe(webhooks, receiver, "alice", ["job.*"])
    job = str(uuid.uuid4())
    (created,) = await append_each(core.store, job, lifecycle(job, "alice")[:1])
    await Dispatcher(core.store, core.pool).catch_up()
    async with core.pool.connection() as conn, conn.transaction():
        crashed = await outbox.claim(conn, 10, lease_seconds=0.5)  # and never reports back
    assert [m.event_id for m in crashed] == [created.id]

    config = fast_config()
    guard = UrlGuard(allow_private=True)
    sender = Sender(core.store, core.pool, config, guard)
    async with open_session(guard, config) as session:
        assert await sender.deliver_once(session) == 0  # still reserved by the crashed sender
        await asyncio.sleep(0.6)
        assert await sender.deliver_once(session) == 1
    assert first_arrivals(receiver) == [created.id]
