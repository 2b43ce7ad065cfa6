"""The `webhooks` read model: one row per live subscription (never its secret), for listing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adpipe.events.webhook import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookSecretRotated,
    WebhookSubscribed,
    WebhookUpdated,
)
from adpipe.projector import Projection

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from adpipe.events.catalogue import Envelope


class WebhooksProjection(Projection):
    name = "webhooks"
    tables = ("webhooks",)
    handles = frozenset(
        {
            "webhook.subscribed",
            "webhook.updated",
            "webhook.secret_rotated",
            "webhook.disabled",
            "webhook.deleted",
        }
    )

    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None:
        at, webhook_id = envelope.recorded_at, envelope.entity_id
        match envelope.data:
            case WebhookSubscribed() as e:
                await conn.execute(
                    "INSERT INTO webhooks (id, user_id, url, events, description, created_at,"
                    " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    [e.webhook_id, e.user_id, e.url, e.events, e.description, at, at],
                )
            case WebhookUpdated() as e:
                # Re-enabling clears the reason it was disabled for.
                await conn.execute(
                    "UPDATE webhooks SET url = %s, events = %s, description = %s, enabled = %s,"
                    " disabled_reason = CASE WHEN %s THEN NULL ELSE disabled_reason END,"
                    " updated_at = %s WHERE id = %s",
                    [e.url, e.events, e.description, e.enabled, e.enabled, at, webhook_id],
                )
            case WebhookSecretRotated():
                await conn.execute(
                    "UPDATE webhooks SET secret_rotated_at = %s, updated_at = %s WHERE id = %s",
                    [at, at, webhook_id],
                )
            case WebhookDisabled() as e:
                await conn.execute(
                    "UPDATE webhooks SET enabled = false, disabled_reason = %s, updated_at = %s"
                    " WHERE id = %s",
                    [e.reason, at, webhook_id],
                )
            case WebhookDeleted():
                await conn.execute("DELETE FROM webhooks WHERE id = %s", [webhook_id])
