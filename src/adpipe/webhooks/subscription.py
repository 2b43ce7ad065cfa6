"""A webhook subscription as its events left it: the pure fold behind the API's single reads."""

from __future__ import annotations

from datetime import datetime

import msgspec

from adpipe.events.catalogue import Envelope
from adpipe.events.webhook import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookSecretRotated,
    WebhookSubscribed,
    WebhookUpdated,
)


class WebhookState(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 0
    webhook_id: str = ""
    user_id: str = ""
    url: str = ""
    events: tuple[str, ...] = ()
    description: str = ""
    enabled: bool = True
    disabled_reason: str | None = None
    deleted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    secret_rotated_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.version > 0 and not self.deleted


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


def fold(envelopes: list[Envelope]) -> WebhookState:
    state = WebhookState()
    for envelope in envelopes:
        state = evolve(state, envelope)
    return state
