"""The delivery outbox (`webhook_messages`, `webhook_attempts`): enqueue, claim, record, list.

Only the head of each (subscription, ordering key) queue can be claimed — the pending message with
the lowest position — so one job's events reach one endpoint in order, and a failing earlier
delivery holds back the later ones of that job (for that endpoint only).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from psycopg import AsyncConnection

# NOTIFY channel that wakes senders when messages are enqueued or a retry is requested.
CHANNEL: Final = "adpipe_webhooks"


class NewMessage(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    event_id: str
    position: int
    ordering_key: str
    event_type: str
    body: str


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    body: str
    attempts: int
    schedule_step: int
    url: str


class Attempt(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    response: str | None
    next_retry_at: datetime | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One event for one subscription, with every attempt to deliver it."""

    id: str
    event_id: str
    event_type: str
    position: int
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[Attempt]


async def enqueue(conn: AsyncConnection[Any], messages: list[NewMessage]) -> None:
    if not messages:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO webhook_messages (id, webhook_id, event_id, position, ordering_key,"
            " event_type, body, next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (webhook_id, event_id) DO NOTHING",
            [
                (
                    uuid.uuid4(),
                    m.webhook_id,
                    m.event_id,
                    m.position,
                    m.ordering_key,
                    m.event_type,
                    m.body,
                )
                for m in messages
            ],
        )


async def close_pending(
    conn: AsyncConnection[Any], webhook_id: str, status: str, error: str
) -> None:
    """Ends every pending delivery of a subscription (deleted: cancelled; disabled: failed)."""
    await conn.execute(
        "UPDATE webhook_messages SET status = %s, last_error = %s, next_attempt_at = NULL,"
        " locked_until = NULL WHERE webhook_id = %s AND status = 'pending'",
        [status, error, webhook_id],
    )


async def claim(
    conn: AsyncConnection[Any], limit: int, lease_seconds: float, per_user: int | None = None
) -> list[Claimed]:
    """Reserves up to `limit` due queue heads of enabled subscriptions for this sender.

    Fair between users: due heads are taken round-robin — every user's first, then every user's
    second, … — and a user never has more than `per_user` deliveries in flight across all
    senders (live leases count), so one user's hanging endpoint or flood of events holds at most
    that many slots while other users' deliveries go out. None: no cap (round-robin still).
    """
    cur = await conn.execute(
        """
        WITH due AS (
            SELECT m.id, r.user_id, m.next_attempt_at, m.position FROM webhook_messages m
            JOIN webhook_routes r ON r.webhook_id = m.webhook_id AND r.enabled AND NOT r.deleted
            WHERE m.status = 'pending' AND m.next_attempt_at <= now()
              AND (m.locked_until IS NULL OR m.locked_until < now())
              AND NOT EXISTS (
                  SELECT 1 FROM webhook_messages e
                  WHERE e.webhook_id = m.webhook_id AND e.ordering_key = m.ordering_key
                    AND e.status = 'pending' AND e.position < m.position)
        ),
        in_flight AS (
            SELECT r.user_id, count(*) AS n FROM webhook_messages m
            JOIN webhook_routes r ON r.webhook_id = m.webhook_id
            WHERE m.status = 'pending' AND m.locked_until >= now()
            GROUP BY r.user_id
        ),
        -- A user's k-th due head gets turn k after the deliveries it already has in flight.
        -- (Ranked here, locked below: FOR UPDATE cannot share a level with a window function.)
        ranked AS (
            SELECT due.id, due.next_attempt_at, due.position,
                   coalesce(f.n, 0) + row_number() OVER (
                       PARTITION BY due.user_id ORDER BY due.next_attempt_at, due.position
                   ) AS turn
            FROM due LEFT JOIN in_flight f ON f.user_id = due.user_id
        ),
        picked AS (
            SELECT m.id FROM webhook_messages m JOIN ranked ON ranked.id = m.id
            WHERE (%(per_user)s::int IS NULL OR ranked.turn <= %(per_user)s::int)
              -- re-checked on the locked row: another sender may have claimed it meanwhile
              AND m.status = 'pending' AND (m.locked_until IS NULL OR m.locked_until < now())
            ORDER BY ranked.turn, ranked.next_attempt_at, ranked.position
            LIMIT %(limit)s
            FOR UPDATE OF m SKIP LOCKED
        )
        UPDATE webhook_messages m
        SET locked_until = now() + make_interval(secs => %(lease)s::float8)
        FROM picked, webhook_routes r
        WHERE m.id = picked.id AND r.webhook_id = m.webhook_id
        RETURNING m.id, m.webhook_id, m.event_id, m.event_type, m.body, m.attempts,
                  m.schedule_step, r.url
        """,
        {"limit": limit, "lease": lease_seconds, "per_user": per_user},
    )
    return [
        Claimed(
            id=str(r[0]),
            webhook_id=r[1],
            event_id=str(r[2]),
            event_type=r[3],
            body=r[4],
            attempts=r[5],
            schedule_step=r[6],
            url=r[7],
        )
        for r in await cur.fetchall()
    ]


async def record_attempt(
    conn: AsyncConnection[Any],
    message: Claimed,
    *,
    started_at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    response: str | None,
    retry_in: float | None,
) -> datetime | None:
    """Stores one attempt and moves the message on; answers when it is retried (None: not)."""
    delivered = error is None
    cur = await conn.execute(
        "UPDATE webhook_messages SET attempts = attempts + 1, locked_until = NULL,"
        " last_status_code = %(code)s, last_error = %(error)s,"
        " status = CASE WHEN %(delivered)s THEN 'delivered'"
        "   WHEN %(retry)s::float8 IS NULL THEN 'failed' ELSE 'pending' END,"
        " schedule_step = schedule_step + CASE WHEN %(delivered)s THEN 0 ELSE 1 END,"
        " delivered_at = CASE WHEN %(delivered)s THEN now() END,"
        " next_attempt_at = CASE WHEN NOT %(delivered)s AND %(retry)s::float8 IS NOT NULL"
        "   THEN now() + make_interval(secs => %(retry)s::float8) END"
        " WHERE id = %(id)s AND status = 'pending' RETURNING next_attempt_at",
        {
            "code": status_code,
            "error": error,
            "delivered": delivered,
            "retry": None if delivered else retry_in,
            "id": message.id,
        },
    )
    row = await cur.fetchone()
    next_at: datetime | None = row[0] if row else None
    await conn.execute(
        "INSERT INTO webhook_attempts (message_id, webhook_id, attempt, started_at, status_code,"
        " latency_ms, error, response, next_retry_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            message.id,
            message.webhook_id,
            message.attempts + 1,
            started_at,
            status_code,
            latency_ms,
            error,
            response,
            next_at,
        ],
    )
    return next_at


async def list_deliveries(
    conn: AsyncConnection[Any], webhook_id: str, *, limit: int, offset: int = 0
) -> tuple[list[Delivery], int]:
    """A page of a subscription's deliveries, newest first, and how many there are in all."""
    cur = await conn.execute(
        "SELECT id, event_id, event_type, position, status, attempts, next_attempt_at,"
        " last_status_code, last_error, created_at, delivered_at FROM webhook_messages"
        " WHERE webhook_id = %s ORDER BY position DESC LIMIT %s OFFSET %s",
        [webhook_id, limit, offset],
    )
    rows = await cur.fetchall()
    count = await conn.execute(
        "SELECT count(*) FROM webhook_messages WHERE webhook_id = %s", [webhook_id]
    )
    total = int((await count.fetchone() or (0,))[0])
    cur = await conn.execute(
        "SELECT message_id, attempt, started_at, status_code, latency_ms, error, response,"
        " next_retry_at FROM webhook_attempts WHERE message_id = ANY(%s) ORDER BY id",
        [[r[0] for r in rows]],
    )
    attempts: dict[str, list[Attempt]] = {}
    for a in await cur.fetchall():
        attempts.setdefault(str(a[0]), []).append(
            Attempt(
                attempt=a[1],
                started_at=a[2],
                status_code=a[3],
                latency_ms=a[4],
                error=a[5],
                response=a[6],
                next_retry_at=a[7],
            )
        )
    deliveries = [
        Delivery(
            id=str(r[0]),
            event_id=str(r[1]),
            event_type=r[2],
            position=r[3],
            status=r[4],
            attempt_count=r[5],
            next_attempt_at=r[6],
            last_status_code=r[7],
            last_error=r[8],
            created_at=r[9],
            delivered_at=r[10],
            attempts=attempts.get(str(r[0]), []),
        )
        for r in rows
    ]
    return deliveries, total


async def resend(conn: AsyncConnection[Any], webhook_id: str, delivery_id: str) -> bool:
    """Queues a delivery again, due now, with a fresh retry schedule; False if unknown."""
    cur = await conn.execute(
        "UPDATE webhook_messages SET status = 'pending', schedule_step = 0,"
        " next_attempt_at = now(), delivered_at = NULL"
        " WHERE id = %s AND webhook_id = %s RETURNING id",
        [delivery_id, webhook_id],
    )
    if await cur.fetchone() is None:
        return False
    await conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, webhook_id])
    return True


async def purge_finished(conn: AsyncConnection[Any], retention_days: float) -> int:
    """Forgets finished deliveries (and their attempts) older than the retention period."""
    cur = await conn.execute(
        "DELETE FROM webhook_messages WHERE status <> 'pending'"
        " AND created_at < now() - make_interval(secs => %s::float8)",
        [retention_days * 86400.0],
    )
    return cur.rowcount
