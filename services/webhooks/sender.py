"""The sender: claims due outbox heads, posts them, records each attempt, retries, disables.

Any number of senders may run (in one process or many): a claim is a lease on the row, so a
crashed sender's deliveries go out again once the lease ends — at least once, with the event id
as `webhook-id` for receivers to deduplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from adpipe.domain.webhook import Disable, decide, fold
from adpipe.errors import StreamVersionConflict
from adpipe.events.catalogue import Metadata, stream_id
from adpipe.net.redact import redact_text
from adpipe.observability.outcomes import record_webhook_delivery, record_webhook_disabled
from adpipe.storage import url_secrets
from adpipe.webhooks import outbox
from adpipe.webhooks.signing import signing_secrets

from .delivery import Outcome, open_session, post

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from adpipe.net import UrlGuard
    from adpipe.settings import WebhookConfig
    from adpipe.storage.eventstore import EventStore
    from adpipe.storage.subscription import Waker

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:webhooks"
_PURGE_EVERY_SECONDS = 3600.0


class Sender:
    def __init__(
        self,
        store: EventStore,
        pool: AsyncConnectionPool[Any],
        config: WebhookConfig,
        guard: UrlGuard,
        *,
        waker: Waker | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.pool = pool
        self.config = config
        self.guard = guard
        self.waker = waker  # listening on outbox.CHANNEL
        self.rng = rng or random.Random()

    async def run(self) -> None:
        """Sends until cancelled; in-flight deliveries are cancelled with it (their lease ends)."""
        inflight: set[asyncio.Task[None]] = set()
        last_purge = 0.0
        async with open_session(self.guard, self.config) as session:
            try:
                while True:
                    seen = self.waker.generation if self.waker else 0
                    free = self.config.concurrency - len(inflight)
                    claimed: list[outbox.Claimed] = []
                    if free > 0:
                        claimed = await self._claim(free)
                    for message in claimed:
                        inflight.add(asyncio.create_task(self._deliver(session, message)))
                    if time.monotonic() - last_purge > _PURGE_EVERY_SECONDS:
                        last_purge = time.monotonic()
                        await self._purge()
                    # A full claim means more may be due: go again as soon as a slot frees up.
                    busy = free > 0 and len(claimed) == free
                    await self._wait(inflight, seen, busy)
            finally:
                for task in inflight:
                    task.cancel()
                await asyncio.gather(*inflight, return_exceptions=True)

    async def _wait(self, inflight: set[asyncio.Task[None]], seen: int, busy: bool) -> None:
        waiters: set[asyncio.Task[Any]] = set(inflight)
        wake: asyncio.Task[Any] | None = None
        if not busy or not inflight:
            if self.waker is not None:
                wake = asyncio.create_task(self.waker.wait(seen, self.config.poll_seconds))
            else:
                wake = asyncio.create_task(asyncio.sleep(self.config.poll_seconds))
            waiters.add(wake)
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=self.config.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if wake is not None and not wake.done():
                wake.cancel()
                # asyncio.wait, not `await wake`: suppressing the waiter's CancelledError could
                # swallow a cancellation of this task arriving at the same moment.
                await asyncio.wait({wake})
        for task in done & inflight:
            inflight.discard(task)
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.warning("webhook delivery crashed (%s); it is retried after its lease", exc)

    async def _claim(self, limit: int) -> list[outbox.Claimed]:
        try:
            async with self.pool.connection() as conn, conn.transaction():
                return await outbox.claim(
                    conn, limit, self.config.lease_seconds, self.config.concurrency_per_user
                )
        except Exception as exc:  # the database is down: keep trying, nothing is lost
            log.warning("could not claim webhook deliveries (%s)", exc)
            return []

    async def _purge(self) -> None:
        try:
            async with self.pool.connection() as conn:
                await outbox.purge_finished(conn, self.config.retention_days)
        except Exception as exc:
            log.warning("could not purge old webhook deliveries (%s)", exc)

    async def deliver_once(self, session: aiohttp.ClientSession) -> int:
        """Claims and sends whatever is due now, waiting for all of it (tests use this)."""
        claimed = await self._claim(self.config.concurrency)
        await asyncio.gather(*(self._deliver(session, m) for m in claimed))
        return len(claimed)

    async def _deliver(self, session: aiohttp.ClientSession, message: outbox.Claimed) -> None:
        async with self.pool.connection() as conn:
            secrets = await signing_secrets(conn, message.webhook_id)
        # The routes hold the URL as the log does (redacted); a token in it is kept aside.
        url = await url_secrets.recall(self.pool, "webhook", message.webhook_id, message.url)
        if secrets:
            result = await post(
                session,
                self.guard,
                url,
                message_id=message.event_id,
                body=message.body,
                signing_secrets=secrets,
                timeout_seconds=self.config.timeout_seconds,
                excerpt_bytes=self.config.response_excerpt_bytes,
            )
        else:
            result = Outcome(
                started_at=datetime.now(UTC),
                latency_ms=0,
                error="the webhook has no signing secret",
            )
        record_webhook_delivery(
            status_code=result.status_code,
            delivered=result.delivered,
            seconds=result.latency_ms / 1000,
        )
        disable_reason = await self._record(message, result)
        if disable_reason is not None:
            await self.disable(message.webhook_id, disable_reason)

    async def _record(self, message: outbox.Claimed, result: Outcome) -> str | None:
        """Stores the attempt; answers a reason to disable the endpoint, or None."""
        retry_in = (
            None
            if result.delivered
            else self.config.retry_delay(message.schedule_step, self.rng.random())
        )
        async with self.pool.connection() as conn, conn.transaction():
            await outbox.record_attempt(
                conn,
                message,
                started_at=result.started_at,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                error=result.error,
                response=result.response,
                retry_in=retry_in,
            )
            if result.delivered:
                await conn.execute(
                    "UPDATE webhook_routes SET failing_since = NULL"
                    " WHERE webhook_id = %s AND failing_since IS NOT NULL",
                    [message.webhook_id],
                )
                return None
            cur = await conn.execute(
                "UPDATE webhook_routes SET failing_since = coalesce(failing_since, %s)"
                " WHERE webhook_id = %s"
                " RETURNING enabled AND now() - failing_since >= make_interval(secs => %s)",
                [result.started_at, message.webhook_id, self.config.disable_after_seconds],
            )
            row = await cur.fetchone()
        if row is None or not row[0]:
            return None
        span = _span(self.config.disable_after_seconds)
        return redact_text(f"every delivery failed for more than {span} (last: {result.error})")

    async def disable(self, webhook_id: str, reason: str) -> bool:
        """Records `webhook.disabled` once (re-decided on a concurrent write); True if it did."""
        stream = stream_id("webhook", webhook_id)
        for _ in range(5):
            state = fold(await self.store.read_stream(stream))
            events = decide(state, Disable(reason=reason))
            if not events:
                return False
            try:
                await self.store.append(stream, events, state.version, Metadata(actor=SYSTEM_ACTOR))
            except StreamVersionConflict:
                continue
            # Stop at once; the dispatcher folds the event into the routes soon after anyway.
            async with self.pool.connection() as conn:
                await conn.execute(
                    "UPDATE webhook_routes SET enabled = false WHERE webhook_id = %s",
                    [webhook_id],
                )
            log.warning("webhook %s disabled: %s", webhook_id, reason)
            record_webhook_disabled()
            return True
        return False


def _span(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
