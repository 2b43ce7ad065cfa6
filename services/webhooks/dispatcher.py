"""The dispatcher: reads the log in global order and turns each event into outbox messages.

Why a catch-up reader of the store rather than a JetStream consumer: competing consumers do not
keep order, and routing must be decided against the subscriptions as they were at the event's
position. So the dispatcher folds `webhook.*` events into its own `webhook_routes` in the same
pass, and writes the messages, the route changes and its checkpoint in one transaction — each
event is routed exactly once, to exactly the subscriptions that existed when it happened.
Who owns an event is the `userId` of its stream's first event (job.created, asset.registered,
client.created, campaign.created, webhook.subscribed): a user's webhooks see only their events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from adpipe.events.catalogue import Envelope, encode
from adpipe.events.webhook import (
    WebhookDeleted,
    WebhookDisabled,
    WebhookSubscribed,
    WebhookTest,
    WebhookUpdated,
)
from adpipe.storage.catchup import CatchUpReader
from adpipe.webhooks.outbox import CHANNEL, NewMessage, close_pending, enqueue
from adpipe.webhooks.patterns import matches

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from adpipe.storage.eventstore import EventStore
    from adpipe.storage.subscription import Waker

log = logging.getLogger(__name__)

CHECKPOINT: Final = "webhooks:dispatcher"


class Route(msgspec.Struct, kw_only=True):
    webhook_id: str
    events: tuple[str, ...]
    enabled: bool


Routes = dict[str, dict[str, Route]]  # user id -> webhook id -> route


class Dispatcher:
    """The webhook routing fold, run by the shared catch-up reader under its own checkpoint.

    An event it cannot route holds the dispatcher (the reader retries the batch with backoff)
    rather than being skipped: a webhook receiver must never silently miss an event.
    """

    def __init__(
        self,
        store: EventStore,
        pool: AsyncConnectionPool[Any],
        *,
        waker: Waker | None = None,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.reader = CatchUpReader(
            CHECKPOINT,
            store,
            pool,
            _route_batch,
            waker=waker,
            batch_size=batch_size,
            poll_seconds=poll_seconds,
        )

    async def run(self) -> None:
        """Follows the log until cancelled, restarting from the checkpoint after an error."""
        await self.reader.run()

    async def checkpoint(self) -> int:
        return await self.reader.checkpoint()

    async def catch_up(self) -> int:
        """Routes everything up to the log's current end once (tests use this)."""
        return await self.reader.catch_up()

    async def apply_batch(self, expected: int, batch: Sequence[Envelope]) -> bool:
        """Routes a batch atomically with the checkpoint; False if the checkpoint moved."""
        return await self.reader.apply_batch(expected, batch)


async def _route_batch(conn: AsyncConnection[Any], batch: Sequence[Envelope]) -> None:
    owners = await _owners(conn, {e.stream for e in batch})
    routes = await _load_routes(conn, set(owners.values()))
    messages: list[NewMessage] = []
    enqueued = 0
    for envelope in batch:
        owner = owners.get(envelope.stream)
        if owner is not None:
            messages.extend(_messages(routes.get(owner, {}), envelope))
        if envelope.kind == "webhook" and owner is not None:
            # Route changes may end pending messages: write the earlier ones first.
            await enqueue(conn, messages)
            enqueued += len(messages)
            messages = []
            await _fold_route(conn, routes.setdefault(owner, {}), owner, envelope)
    await enqueue(conn, messages)
    enqueued += len(messages)
    if enqueued:
        # Delivered at commit, with the checkpoint: wakes the senders.
        await conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(enqueued)])


async def _owners(conn: AsyncConnection[Any], streams: set[str]) -> dict[str, str]:
    """Stream -> the user id its first event names."""
    cur = await conn.execute(
        "SELECT stream, data->>'userId' FROM events WHERE version = 1 AND stream = ANY(%s)",
        [list(streams)],
    )
    return {stream: user for stream, user in await cur.fetchall() if user}


async def _load_routes(conn: AsyncConnection[Any], users: set[str]) -> Routes:
    cur = await conn.execute(
        "SELECT user_id, webhook_id, events, enabled FROM webhook_routes"
        " WHERE user_id = ANY(%s) AND NOT deleted",
        [list(users)],
    )
    routes: Routes = {}
    for user_id, webhook_id, events, enabled in await cur.fetchall():
        routes.setdefault(user_id, {})[webhook_id] = Route(
            webhook_id=webhook_id, events=tuple(events), enabled=enabled
        )
    return routes


def _messages(routes: dict[str, Route], envelope: Envelope) -> list[NewMessage]:
    """The event's messages: to its owner's enabled subscriptions whose filter matches it.

    A `webhook.test` goes only to the subscription it tests, whatever that one's filter says.
    """
    if isinstance(envelope.data, WebhookTest):
        route = routes.get(envelope.data.webhook_id)
        targets = [route] if route is not None and route.enabled else []
    else:
        targets = [r for r in routes.values() if r.enabled and matches(r.events, envelope.type)]
    if not targets:
        return []
    body = encode(envelope).decode()
    return [
        NewMessage(
            webhook_id=route.webhook_id,
            event_id=envelope.id,
            position=envelope.position,
            ordering_key=envelope.stream,
            event_type=envelope.type,
            body=body,
        )
        for route in targets
    ]


async def _fold_route(
    conn: AsyncConnection[Any], routes: dict[str, Route], owner: str, envelope: Envelope
) -> None:
    webhook_id = envelope.entity_id
    match envelope.data:
        case WebhookSubscribed() as e:
            await conn.execute(
                "INSERT INTO webhook_routes (webhook_id, user_id, url, events)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (webhook_id) DO NOTHING",
                [webhook_id, owner, e.url, e.events],
            )
            routes[webhook_id] = Route(webhook_id=webhook_id, events=tuple(e.events), enabled=True)
        case WebhookUpdated() as e:
            # An edit by the user starts the endpoint's failure span afresh.
            await conn.execute(
                "UPDATE webhook_routes SET url = %s, events = %s, enabled = %s,"
                " failing_since = NULL WHERE webhook_id = %s",
                [e.url, e.events, e.enabled, webhook_id],
            )
            if route := routes.get(webhook_id):
                route.events, route.enabled = tuple(e.events), e.enabled
            if not e.enabled:
                await close_pending(conn, webhook_id, "failed", "the webhook was disabled")
        case WebhookDisabled() as e:
            await conn.execute(
                "UPDATE webhook_routes SET enabled = false WHERE webhook_id = %s", [webhook_id]
            )
            if route := routes.get(webhook_id):
                route.enabled = False
            await close_pending(conn, webhook_id, "failed", f"the webhook was disabled: {e.reason}")
        case WebhookDeleted():
            await conn.execute(
                "UPDATE webhook_routes SET deleted = true, enabled = false WHERE webhook_id = %s",
                [webhook_id],
            )
            routes.pop(webhook_id, None)
            await close_pending(conn, webhook_id, "cancelled", "the webhook was deleted")
