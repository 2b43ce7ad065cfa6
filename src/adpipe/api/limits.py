"""Per-user limits: requests per second, unfinished jobs, upload bytes per day, webhooks.

Past a limit the answer is 429 problem+json with `Retry-After`, and only that user is held back.
Each limit is a setting (see `Settings`). The request rate is a token bucket kept in this API
process (N processes allow N times the rate: a cheap first line, not an exact quota); the
counted limits read the read models, and the unfinished-jobs check holds a per-user lock in
this process from the count to the job's creation being readable, so one user's burst of
concurrent creates cannot slip past it together.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from adpipe.errors import TooManyRequests

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from adpipe.settings import Settings

_TERMINAL = ["completed", "failed", "cancelled"]
# How long a client should wait when it has too many unfinished jobs: about one short render.
JOBS_RETRY_AFTER_SECONDS = 30
# Idle buckets are forgotten after this long (a full bucket carries no state worth keeping).
_BUCKET_IDLE_SECONDS = 300.0


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class UserLimits:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool[Any]) -> None:
        self.settings = settings
        self.pool = pool
        self._buckets: dict[str, _Bucket] = {}
        self._job_locks: dict[str, asyncio.Lock] = {}
        self._last_sweep = time.monotonic()

    # ---- requests per second ---------------------------------------------------------------

    def check_rate(self, user: str) -> None:
        rate = self.settings.requests_per_second_per_user
        if rate <= 0:
            return
        burst = max(1.0, rate * self.settings.request_burst_seconds)
        now = time.monotonic()
        bucket = self._buckets.get(user)
        if bucket is None:
            bucket = self._buckets[user] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            raise TooManyRequests(
                f"more than {rate:g} requests a second from this user; slow down",
                retry_after=math.ceil((1 - bucket.tokens) / rate),
                limit="requests_per_second",
            )
        bucket.tokens -= 1
        if now - self._last_sweep > _BUCKET_IDLE_SECONDS:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        idle = [u for u, b in self._buckets.items() if now - b.stamp > _BUCKET_IDLE_SECONDS]
        for user in idle:
            del self._buckets[user]

    # ---- unfinished jobs -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def job_slot(self, user: str) -> AsyncIterator[None]:
        """Held from the count to the new job being readable (the caller settles inside)."""
        cap = self.settings.max_active_jobs_per_user
        lock = self._job_locks.setdefault(user, asyncio.Lock())
        async with lock:
            active = await self._scalar(
                "SELECT count(*) FROM jobs WHERE user_id = %s AND NOT status = ANY(%s)",
                [user, _TERMINAL],
            )
            if active >= cap:
                raise TooManyRequests(
                    f"this user already has {active} unfinished jobs (the limit is {cap}):"
                    " approve, cancel or wait for some to finish first",
                    retry_after=JOBS_RETRY_AFTER_SECONDS,
                    limit="max_active_jobs_per_user",
                )
            yield
        if not lock.locked() and self._job_locks.get(user) is lock:
            del self._job_locks[user]

    # ---- upload bytes per day --------------------------------------------------------------

    async def check_upload(self, user: str, incoming: int) -> None:
        """Refuses an upload of `incoming` bytes that would pass the user's bytes per 24 h."""
        cap = self.settings.upload_bytes_per_day_per_user
        # From the log, not the assets read model: deleting an upload must not refund its bytes.
        used = await self._scalar(
            "SELECT coalesce(sum((s.data->'metadata'->>'size')::bigint), 0)"
            " FROM events s JOIN events r ON r.stream = s.stream AND r.version = 1"
            " WHERE s.type = 'asset.stored' AND s.recorded_at > now() - interval '24 hours'"
            " AND r.data->>'userId' = %s AND r.data->>'sourceUrl' IS NULL",
            [user],
        )
        if used + incoming > cap:
            raise TooManyRequests(
                f"uploads are limited to {cap} bytes a day per user; {used} were uploaded in"
                " the last 24 hours",
                retry_after=3600,
                limit="upload_bytes_per_day",
            )

    # ---- webhooks --------------------------------------------------------------------------

    async def check_webhooks(self, user: str) -> None:
        cap = self.settings.max_webhooks_per_user
        count = await self._scalar("SELECT count(*) FROM webhooks WHERE user_id = %s", [user])
        if count >= cap:
            raise TooManyRequests(
                f"a user may have {cap} webhooks; delete one before adding another",
                retry_after=3600,
                limit="max_webhooks_per_user",
            )

    async def _scalar(self, query: str, params: list[Any]) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
        return int(row[0]) if row else 0
