"""The webhook subscription aggregate: subscribe, change, rotate the secret, test, disable, delete.

Its state is folded from envelopes, not bare events: the subscription shows when it was made and
last changed, which only the log's `recordedAt` knows. The URL's reachability is checked by the
caller (a DNS lookup is IO) and handed in as `url_problem`, so every field's problem is still
reported in one answer. No IO here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from adpipe.errors import Conflict, ValidationFailed
from adpipe.events.webhook import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookSecretRotated,
    WebhookSubscribed,
    WebhookTest,
    WebhookUpdated,
)
from adpipe.webhooks.patterns import pattern_problem

from .resource import Aggregate, Command, ResourceState, missing

if TYPE_CHECKING:
    from adpipe.events.base import Event
    from adpipe.events.catalogue import Envelope

MAX_DESCRIPTION_LENGTH = 1000
MAX_PATTERNS = 100


class WebhookState(ResourceState, frozen=True, kw_only=True):
    webhook_id: str = ""
    url: str = ""
    events: tuple[str, ...] = ()
    description: str = ""
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    secret_rotated_at: datetime | None = None


# ---- commands -------------------------------------------------------------------------------


class Subscribe(Command, frozen=True, kw_only=True):
    """`url` as the log may hold it (redacted); `url_problem`: why the full URL cannot be used."""

    webhook_id: str
    user_id: str
    url: str
    events: list[str]
    description: str = ""
    url_problem: str | None = None


class Update(Command, frozen=True, kw_only=True):
    """Fields left out (None) keep their values; a change to nothing records nothing."""

    url: str | None = None
    events: list[str] | None = None
    enabled: bool | None = None
    description: str | None = None
    url_problem: str | None = None


class RotateSecret(Command, frozen=True, kw_only=True):
    pass


class SendTest(Command, frozen=True, kw_only=True):
    pass


class Disable(Command, frozen=True, kw_only=True):
    """Deliveries kept failing: recorded once, and never for a deleted or disabled webhook."""

    reason: str


class Delete(Command, frozen=True, kw_only=True):
    pass


def check(url_problem: str | None, events: Sequence[str], description: str) -> None:
    """Every field's problem at once (422), or nothing."""
    errors: list[dict[str, str]] = []
    if url_problem is not None:
        errors.append({"field": "url", "message": url_problem})
    if not events:
        errors.append({"field": "events", "message": "subscribe to at least one event"})
    elif len(events) > MAX_PATTERNS:
        errors.append({"field": "events", "message": f"at most {MAX_PATTERNS} filters"})
    for i, pattern in enumerate(events):
        if problem := pattern_problem(pattern):
            errors.append({"field": f"events[{i}]", "message": problem})
    if len(description) > MAX_DESCRIPTION_LENGTH:
        errors.append(
            {"field": "description", "message": f"at most {MAX_DESCRIPTION_LENGTH} characters"}
        )
    if errors:
        raise ValidationFailed("the webhook subscription is not valid", errors)


def require_enabled(state: WebhookState, action: str) -> None:
    if not state.enabled:
        raise Conflict(f"webhook {state.webhook_id} is disabled; enable it before {action}")


def decide(state: WebhookState, command: Command) -> list[Event]:
    match command:
        case Subscribe() as sub:
            if state.version:
                raise Conflict(f"webhook {sub.webhook_id} already exists")
            check(sub.url_problem, sub.events, sub.description)
            return [
                WebhookSubscribed(
                    webhook_id=sub.webhook_id,
                    user_id=sub.user_id,
                    url=sub.url,
                    events=_unique(sub.events),
                    description=sub.description,
                )
            ]
        case Disable(reason=reason):
            # The sender's ruling on a subscription that may have gone meanwhile: nothing to do.
            return [WebhookDisabled(reason=reason)] if state.exists and state.enabled else []
    if not state.exists:
        raise missing("webhook", state.webhook_id)
    match command:
        case Update() as change:
            return _update(state, change)
        case RotateSecret():
            return [WebhookSecretRotated()]
        case SendTest():
            require_enabled(state, "testing it")
            return [WebhookTest(webhook_id=state.webhook_id)]
        case Delete():
            return [WebhookDeleted()]
    raise TypeError(f"not a webhook command: {command!r}")


def _update(state: WebhookState, change: Update) -> list[Event]:
    new = WebhookUpdated(
        url=change.url if change.url is not None else state.url,
        events=_unique(change.events) if change.events is not None else [*state.events],
        enabled=change.enabled if change.enabled is not None else state.enabled,
        description=change.description if change.description is not None else state.description,
    )
    check(
        change.url_problem,
        change.events if change.events is not None else new.events,
        new.description,
    )
    unchanged = (new.url, tuple(new.events), new.enabled, new.description) == (
        state.url,
        state.events,
        state.enabled,
        state.description,
    )
    return [] if unchanged else [new]


def _unique(patterns: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(patterns))


# ---- evolve ---------------------------------------------------------------------------------


def evolve(state: WebhookState, envelope: Envelope) -> WebhookState:
    replace = msgspec.structs.replace
    at = envelope.recorded_at
    state = replace(state, version=envelope.version)
    match envelope.data:
        case WebhookSubscribed() as e:
            return replace(
                state,
                updated_at=at,
                webhook_id=e.webhook_id,
                user_id=e.user_id,
                url=e.url,
                events=tuple(e.events),
                description=e.description,
                created_at=at,
            )
        case WebhookUpdated() as e:
            return replace(
                state,
                updated_at=at,
                url=e.url,
                events=tuple(e.events),
                description=e.description,
                enabled=e.enabled,
                disabled_reason=None if e.enabled else state.disabled_reason,
            )
        case WebhookSecretRotated():
            return replace(state, secret_rotated_at=at, updated_at=at)
        case WebhookDisabled() as e:
            return replace(state, enabled=False, disabled_reason=e.reason, updated_at=at)
        case WebhookDeleted():
            return replace(state, deleted=True, updated_at=at)
    return state  # webhook.test changes nothing but the version


def fold(envelopes: Sequence[Envelope]) -> WebhookState:
    state = WebhookState()
    for envelope in envelopes:
        state = evolve(state, envelope)
    return state


WEBHOOKS: Aggregate[WebhookState, Command] = Aggregate(kind="webhook", fold=fold, decide=decide)
