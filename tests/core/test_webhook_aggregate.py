"""The webhook subscription aggregate: what a subscription accepts, when a change records
nothing, and which commands a disabled or deleted one still takes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adpipe.domain.webhook import (
    MAX_DESCRIPTION_LENGTH,
    Delete,
    Disable,
    RotateSecret,
    SendTest,
    Subscribe,
    Update,
    WebhookState,
    decide,
    fold,
)
from adpipe.errors import Conflict, NotFound, ValidationFailed
from adpipe.events.base import Event
from adpipe.events.webhook import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookSecretRotated,
    WebhookSubscribed,
    WebhookTest,
    WebhookUpdated,
)
from testkit.aggregates import T0, history

SUBSCRIBED = WebhookSubscribed(
    webhook_id="w1", user_id="alice", url="https://hooks.example/in", events=["job.*"]
)


def hook(*more: Event) -> WebhookState:
    return fold(history("webhook-w1", SUBSCRIBED, *more))


def test_a_subscription_records_each_filter_once() -> None:
    command = Subscribe(
        webhook_id="w1",
        user_id="alice",
        url="https://hooks.example/in",
        events=["job.*", "job.*", "asset.stored"],
    )

    events = decide(WebhookState(), command)

    assert events == [
        WebhookSubscribed(
            webhook_id="w1",
            user_id="alice",
            url="https://hooks.example/in",
            events=["job.*", "asset.stored"],
        )
    ]


def test_every_problem_of_a_subscription_is_reported_at_once() -> None:
    command = Subscribe(
        webhook_id="w1",
        user_id="alice",
        url="http://10.0.0.1/",
        events=["job.*", "nope.*", "job.exploded"],
        description="x" * (MAX_DESCRIPTION_LENGTH + 1),
        url_problem="a private address",
    )

    with pytest.raises(ValidationFailed) as refused:
        decide(WebhookState(), command)

    fields = [e["field"] for e in refused.value.errors]
    assert fields == ["url", "events[1]", "events[2]", "description"]
    assert refused.value.errors[0]["message"] == "a private address"


def test_a_subscription_needs_at_least_one_filter() -> None:
    with pytest.raises(ValidationFailed) as refused:
        decide(WebhookState(), Subscribe(webhook_id="w1", user_id="a", url="https://x", events=[]))

    assert refused.value.errors == [
        {"field": "events", "message": "subscribe to at least one event"}
    ]


def test_an_update_keeps_what_it_leaves_out_and_a_change_to_nothing_records_nothing() -> None:
    assert decide(hook(), Update(description="")) == []
    assert decide(hook(), Update(events=["job.*"], enabled=True)) == []

    events = decide(hook(), Update(description="for the CRM"))

    assert events == [
        WebhookUpdated(
            url="https://hooks.example/in",
            events=["job.*"],
            enabled=True,
            description="for the CRM",
        )
    ]


def test_an_update_with_a_bad_filter_is_refused_naming_it() -> None:
    with pytest.raises(ValidationFailed) as refused:
        decide(hook(), Update(events=["job.*", "*", "jobs.*"]))

    assert [e["field"] for e in refused.value.errors] == ["events[2]"]


def test_a_disabled_webhook_is_not_tested_and_enabling_it_clears_the_reason() -> None:
    disabled = hook(WebhookDisabled(reason="every delivery failed"))
    assert not disabled.enabled and disabled.disabled_reason == "every delivery failed"

    with pytest.raises(Conflict, match="webhook w1 is disabled; enable it before testing it"):
        decide(disabled, SendTest())
    enabled = hook(WebhookDisabled(reason="r"), *decide(disabled, Update(enabled=True)))

    assert enabled.enabled and enabled.disabled_reason is None
    assert decide(enabled, SendTest()) == [WebhookTest(webhook_id="w1")]


def test_a_webhook_is_disabled_once_and_never_after_its_deletion() -> None:
    assert decide(hook(), Disable(reason="r")) == [WebhookDisabled(reason="r")]
    assert decide(hook(WebhookDisabled(reason="r")), Disable(reason="again")) == []
    assert decide(hook(WebhookDeleted()), Disable(reason="r")) == []
    assert decide(WebhookState(), Disable(reason="r")) == []


def test_a_deleted_webhook_takes_no_command() -> None:
    assert decide(hook(), Delete()) == [WebhookDeleted()]

    deleted = hook(WebhookDeleted())
    for command in (Update(enabled=False), RotateSecret(), SendTest(), Delete()):
        with pytest.raises(NotFound, match="webhook w1 does not exist"):
            decide(deleted, command)


def test_the_fold_knows_when_it_was_made_changed_and_rotated() -> None:
    state = hook(WebhookSecretRotated(), WebhookTest(webhook_id="w1"))

    assert state.version == 3
    assert state.created_at == T0 + timedelta(minutes=1)
    assert state.secret_rotated_at == state.updated_at == T0 + timedelta(minutes=2)
