"""Subscriptions: secrets shown once and kept out of the log, ownership, validation, the SSRF
guard at subscription and at delivery time, rotation, test events, deletion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from adpipe.context import Core
from adpipe.errors import NotFound, ValidationFailed
from adpipe.events.catalogue import stream_id
from adpipe.net import UrlGuard
from adpipe.services.webhooks.delivery import open_session
from adpipe.services.webhooks.dispatcher import Dispatcher
from adpipe.services.webhooks.sender import Sender
from adpipe.settings import STANDARD_RETRY_SCHEDULE, WebhookConfig
from adpipe.webhooks.manage import SubscribeRequest, UpdateRequest, Webhooks
from adpipe.webhooks.patterns import matches, pattern_problem
from adpipe.webhooks.signing import signature_headers
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import StartService, eventually, fast_config, first_arrivals, subscribe
from webhooks.receiver import Receiver


async def test_the_secret_is_shown_once_and_never_enters_the_log(
    core: Core, webhooks: Webhooks, receiver: Receiver
) -> None:
    created = await webhooks.subscribe(
        "alice", SubscribeRequest(url=receiver.url(), events=["job.*"], description="CI")
    )
    assert created.secret.startswith("whsec_") and len(created.secret) > 40
    assert not hasattr(await webhooks.get("alice", created.id), "secret")
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM events WHERE data::text LIKE %s", ["%whsec_%"]
        )
        assert (await cur.fetchone()) == (0,)
    events = await core.store.read_stream(stream_id("webhook", created.id))
    assert [e.type for e in events] == ["webhook.subscribed"]
    assert events[0].metadata.actor == "user:alice"


async def test_another_users_webhook_does_not_exist_for_them(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    webhook_id = await subscribe(webhooks, receiver, "alice", ["*"])
    for attempt in (
        webhooks.get("bob", webhook_id),
        webhooks.update("bob", webhook_id, UpdateRequest(enabled=False)),
        webhooks.delete("bob", webhook_id),
        webhooks.rotate_secret("bob", webhook_id),
        webhooks.send_test("bob", webhook_id),
        webhooks.deliveries("bob", webhook_id),
        webhooks.retry_delivery("bob", webhook_id, str(uuid.uuid4())),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert (await webhooks.list_webhooks("bob")) == ([], 0)
    items, total = await webhooks.list_webhooks("alice")
    assert total == 1 and items[0].id == webhook_id


async def test_an_invalid_subscription_names_every_failing_field(webhooks: Webhooks) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await webhooks.subscribe(
            "alice",
            SubscribeRequest(url="ftp://example.test/x", events=["job.*", "jobs.*", "job.nope"]),
        )
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"url", "events[1]", "events[2]"}
    with pytest.raises(ValidationFailed) as caught:
        await webhooks.subscribe("alice", SubscribeRequest(url="http://127.0.0.1/", events=[]))
    assert [e["field"] for e in caught.value.errors] == ["events"]


async def test_private_addresses_are_refused_unless_allowed(core: Core, webhooks: Webhooks) -> None:
    guarded = Webhooks(core, guard=UrlGuard(allow_private=False))
    for url in ("http://127.0.0.1:9/hook", "http://10.0.0.1/", "http://169.254.169.254/latest"):
        with pytest.raises(ValidationFailed) as caught:
            await guarded.subscribe("alice", SubscribeRequest(url=url, events=["*"]))
        assert caught.value.errors[0]["field"] == "url"
        assert "refusing" in caught.value.errors[0]["message"]


async def test_the_guard_also_applies_when_delivering(
    core: Core, webhooks: Webhooks, receiver: Receiver
) -> None:
    webhook_id = await subscribe(webhooks, receiver, "alice", ["job.*"])
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:1])
    await Dispatcher(core.store, core.pool).catch_up()
    guard = UrlGuard(allow_private=False)
    sender = Sender(core.store, core.pool, fast_config(), guard)
    async with open_session(guard, fast_config()) as session:
        assert await sender.deliver_once(session) == 1
    assert receiver.calls == []
    (delivery,), _ = await webhooks.deliveries("alice", webhook_id)
    assert delivery.status == "pending" and delivery.attempt_count == 1
    assert delivery.attempts[0].error and "loopback" in delivery.attempts[0].error


async def test_after_rotation_old_and_new_secrets_both_verify(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    old = await webhooks.subscribe("alice", SubscribeRequest(url=receiver.url(), events=["job.*"]))
    rotated = await webhooks.rotate_secret("alice", old.id)
    assert rotated.secret != old.secret and rotated.previous_secret_expires_at > datetime.now(UTC)
    receiver.secrets["/hook"] = rotated.secret
    await start_service()
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:1])
    await eventually(lambda: len(receiver.calls) >= 1)
    call = receiver.calls[0]
    assert len(call.headers["webhook-signature"].split(" ")) == 2
    assert call.payload["type"] == "job.created"
    # The old secret alone verifies the same call (receivers switch over at their own pace).
    timestamp = datetime.fromtimestamp(int(call.headers["webhook-timestamp"]), UTC)
    raw = call.headers["webhook-signature"].split(" ")[1]
    old_only = Webhook(old.secret).sign(call.message_id, timestamp, call.body)
    assert raw == old_only
    events = await core.store.read_stream(stream_id("webhook", old.id))
    assert [e.type for e in events] == ["webhook.subscribed", "webhook.secret_rotated"]


async def test_a_test_event_reaches_only_the_webhook_it_tests(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    tested = await subscribe(webhooks, receiver, "alice", ["job.render_completed"], "/one")
    await subscribe(webhooks, receiver, "alice", ["*"], "/two")
    await start_service()
    sent = await webhooks.send_test("alice", tested)
    await eventually(lambda: len(receiver.payloads("/one")) == 1)
    payload = receiver.payloads("/one")[0]
    assert payload["id"] == sent.event_id and payload["type"] == "webhook.test"
    assert payload["data"]["webhookId"] == tested
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT webhook_id FROM webhook_messages WHERE event_type = 'webhook.test'"
        )
        assert await cur.fetchall() == [(tested,)]


async def test_a_deleted_webhook_gets_nothing_more(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    webhook_id = await subscribe(webhooks, receiver, "alice", ["job.*"])
    receiver.answers["/hook"] = 500
    job = str(uuid.uuid4())
    await append_each(core.store, job, lifecycle(job, "alice")[:2])
    await Dispatcher(core.store, core.pool).catch_up()
    await webhooks.delete("alice", webhook_id)
    with pytest.raises(NotFound):
        await webhooks.get("alice", webhook_id)
    assert (await webhooks.list_webhooks("alice"))[1] == 0
    await start_service()
    await append_each(core.store, job, lifecycle(job, "alice")[2:4], after_version=2)
    receiver.answers["/hook"] = 204
    await subscribe(webhooks, receiver, "alice", ["job.*"], "/new")
    await append_each(core.store, job, lifecycle(job, "alice")[4:5], after_version=4)
    await eventually(lambda: len(receiver.payloads("/new")) == 1)
    assert receiver.payloads("/hook") == []
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT DISTINCT status FROM webhook_messages WHERE webhook_id = %s", [webhook_id]
        )
        assert await cur.fetchall() == [("cancelled",)]


async def test_an_update_changes_where_and_what_is_delivered(
    core: Core, webhooks: Webhooks, receiver: Receiver, start_service: StartService
) -> None:
    webhook_id = await subscribe(webhooks, receiver, "alice", ["job.created"], "/old")
    receiver.secrets["/new"] = receiver.secrets["/old"]
    view = await webhooks.update(
        "alice",
        webhook_id,
        UpdateRequest(url=receiver.url("/new"), events=["job.approved"], description="moved"),
    )
    assert (view.url, view.events, view.description) == (
        receiver.url("/new"),
        ["job.approved"],
        "moved",
    )
    await start_service()
    job = str(uuid.uuid4())
    recorded = await append_each(core.store, job, lifecycle(job, "alice"))
    approved = next(e for e in recorded if e.type == "job.approved")
    await eventually(lambda: first_arrivals(receiver, "/new") == [approved.id])
    assert receiver.payloads("/old") == []


def test_event_filters() -> None:
    for good in ("*", "job.*", "asset.*", "job.render_completed", "webhook.test"):
        assert pattern_problem(good) is None
    for bad in ("jobs.*", "job.finished", "", "job", "*.*"):
        assert pattern_problem(bad) is not None
    assert matches(["job.*"], "job.failed") and not matches(["job.*"], "asset.stored")
    assert matches(["asset.stored", "job.failed"], "job.failed")
    assert matches(["*"], "client.created")


def test_the_default_schedule_is_the_standard_one_with_bounded_jitter() -> None:
    config = WebhookConfig()
    assert (
        config.retry_schedule
        == STANDARD_RETRY_SCHEDULE
        == (5, 300, 1800, 7200, 18000, 36000, 36000)
    )
    assert config.retry_delay(0, 0.0) == pytest.approx(4.5)
    assert config.retry_delay(0, 0.999) == pytest.approx(5.5, abs=0.01)
    assert config.retry_delay(1, 0.5) == pytest.approx(300)
    assert config.retry_delay(len(STANDARD_RETRY_SCHEDULE), 0.5) is None


def test_signatures_verify_with_the_standard_library() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"type":"job.created"}'
    headers = signature_headers([secret], "msg_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"type": "job.created"}
