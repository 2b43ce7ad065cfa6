"""Events of webhook subscriptions (`webhook-<id>`). Signing secrets never enter the log."""

from __future__ import annotations

from .base import Event


class WebhookSubscribed(Event, frozen=True, kw_only=True, tag="webhook.subscribed"):
    webhook_id: str
    user_id: str
    url: str
    events: list[str]
    description: str = ""


class WebhookUpdated(Event, frozen=True, kw_only=True, tag="webhook.updated"):
    url: str
    events: list[str]
    enabled: bool
    description: str = ""


class WebhookSecretRotated(Event, frozen=True, kw_only=True, tag="webhook.secret_rotated"):
    pass


class WebhookDeleted(Event, frozen=True, kw_only=True, tag="webhook.deleted"):
    pass


class WebhookDisabled(Event, frozen=True, kw_only=True, tag="webhook.disabled"):
    """Deliveries kept failing for longer than the configured span."""

    reason: str


class WebhookTest(Event, frozen=True, kw_only=True, tag="webhook.test"):
    """Sent to the subscription's own URL on request, to check the receiver."""

    webhook_id: str
    message: str = "This is a test event from adpipe."


WEBHOOK_EVENTS: tuple[type[Event], ...] = (
    WebhookSubscribed,
    WebhookUpdated,
    WebhookSecretRotated,
    WebhookDeleted,
    WebhookDisabled,
    WebhookTest,
)
