"""Signing secrets (kept in `webhook_secrets`, never in the log) and Standard Webhooks headers.

Signatures come from the `standardwebhooks` package itself, so any receiver using a Standard
Webhooks library verifies our calls unchanged.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from standardwebhooks.webhooks import Webhook

if TYPE_CHECKING:
    from psycopg import AsyncConnection

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64 (the spec asks for 24 to 64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(
    signing_secrets: list[str], message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and one `v1,` signature per secret, space-separated."""
    timestamp = timestamp.astimezone(UTC)
    signatures = [Webhook(s).sign(message_id, timestamp, body) for s in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


async def store_secret(conn: AsyncConnection[Any], webhook_id: str, secret: str) -> None:
    await conn.execute(
        "INSERT INTO webhook_secrets (webhook_id, secret) VALUES (%s, %s)"
        " ON CONFLICT (webhook_id) DO UPDATE SET secret = excluded.secret,"
        " previous_secret = NULL, previous_expires_at = NULL, updated_at = now()",
        [webhook_id, secret],
    )


async def rotate_secret(
    conn: AsyncConnection[Any], webhook_id: str, secret: str, grace_seconds: float
) -> None:
    """The new secret signs from now on; the old one keeps signing during the grace period."""
    await conn.execute(
        "UPDATE webhook_secrets SET previous_secret = secret,"
        " previous_expires_at = now() + make_interval(secs => %s),"
        " secret = %s, updated_at = now() WHERE webhook_id = %s",
        [grace_seconds, secret, webhook_id],
    )


async def delete_secret(conn: AsyncConnection[Any], webhook_id: str) -> None:
    await conn.execute("DELETE FROM webhook_secrets WHERE webhook_id = %s", [webhook_id])


async def signing_secrets(conn: AsyncConnection[Any], webhook_id: str) -> list[str]:
    """The current secret, then the previous one while its grace period lasts."""
    cur = await conn.execute(
        "SELECT secret, CASE WHEN previous_expires_at > now() THEN previous_secret END"
        " FROM webhook_secrets WHERE webhook_id = %s",
        [webhook_id],
    )
    row = await cur.fetchone()
    if row is None:
        return []
    return [s for s in row if s]
