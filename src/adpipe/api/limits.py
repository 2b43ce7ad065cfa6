"""Per-user limits: requests per second, unfinished jobs, upload bytes per day, webhooks.

Past a limit the answer is 429 problem+json with `Retry-After`, and only that user is held back.
Each limit is a setting (see `Settings`). The request rate is a token bucket kept in this API
process (N processes allow N times the rate: a cheap first line, not an exact quota); the
counted limits read the read models; the unfinished-jobs check also counts this process's
creates still on their way (reserved from the count until the job is readable), so one user's
burst of concurrent creates cannot slip past it together.
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


class _JobSlots:
    """One user's creates in flight in this process, and the read model's count beside them."""

    __slots__ = ("counted", "creating", "lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # requests waiting for or holding a slot: forgotten when none are
        self.creating: list[str] = []  # job ids reserved, not yet readable (a list: retries)
        self.counted: int | None = None  # the read model's unfinished jobs not in `creating`


class UserLimits:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool[Any]) -> None:
        self.settings = settings
        self.pool = pool
        self._buckets: dict[str, _Bucket] = {}
        self._job_slots: dict[str, _JobSlots] = {}
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
    async def job_slot(self, user: str, job_id: str) -> AsyncIterator[None]:
        """Reserves a place for `job_id` among the user's unfinished jobs, held until the caller
        has made it readable (it settles inside) or given up.

        Only the count and the reservation are serialised per user: the reservations of this
        process's creates still on their way are counted beside the read model's unfinished jobs
        (less those same ids, which may already show there), so a burst cannot slip past the
        cap together, yet its creates run at once instead of each waiting for the one before it
        to be readable. One count serves every reservation until one ends — until then no job
        that count missed can have left the reservations for the read model."""
        cap = self.settings.max_active_jobs_per_user
        slots = self._job_slots.setdefault(user, _JobSlots())
        slots.users += 1
        try:
            async with slots.lock:
                if slots.counted is None:
                    slots.counted = await self._scalar(
                        "SELECT count(*) FROM jobs WHERE user_id = %s AND NOT status = ANY(%s)"
                        " AND NOT id = ANY(%s)",
                        [user, _TERMINAL, list(slots.creating)],
                    )
                active = slots.counted + len(slots.creating)
                if active >= cap:
                    raise TooManyRequests(
                        f"this user already has {active} unfinished jobs (the limit is {cap}):"
                        " approve, cancel or wait for some to finish first",
                        retry_after=JOBS_RETRY_AFTER_SECONDS,
                        limit="max_active_jobs_per_user",
                    )
                slots.creating.append(job_id)
            try:
                yield
            finally:
                slots.creating.remove(job_id)
                slots.counted = None  # its job is in the read model now, or was never made
        finally:
            slots.users -= 1
            if not slots.creating:  # nothing in flight keeps a count current
                slots.counted = None
            if not slots.users:
                del self._job_slots[user]

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
