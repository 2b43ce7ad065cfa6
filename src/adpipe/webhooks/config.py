"""The webhooks service's tunables: retry schedule, timeouts, the disable span, secret rotation.

Kept beside the service (read from `ADPIPE_WEBHOOK_*`) until they move into `adpipe.settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

# The schedule Standard Webhooks senders commonly use (Svix's): the first try at once, then
# retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure — about 28 h in all.
STANDARD_RETRY_SCHEDULE: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True):
    # The first attempt goes out at once; after the n-th failure the next one waits
    # retry_schedule[n-1] seconds. When the schedule is spent the delivery is marked failed.
    retry_schedule: tuple[float, ...] = STANDARD_RETRY_SCHEDULE
    # Each retry delay is scaled by a random factor in [1 - jitter, 1 + jitter], so endpoints
    # that failed together do not all come back at the same instant.
    jitter: float = 0.1
    # An endpoint that has failed without a single success for this long is disabled (5 days).
    disable_after_seconds: float = 5 * 24 * 3600.0
    # Whole request bound; receivers should answer fast and do their work later.
    timeout_seconds: float = 15.0
    connect_timeout_seconds: float = 5.0
    # Deliveries in flight per sender process (one per endpoint and ordering key at most).
    concurrency: int = 16
    # Deliveries in flight for one user across all senders, claimed round-robin between users:
    # an endpoint that hangs for the whole timeout holds at most this many of the 16 slots, so
    # other users' deliveries still go out (a per-user cap, not just fair order, because a slow
    # receiver holds its slot for the whole timeout whatever order it was claimed in).
    concurrency_per_user: int = 4
    # How long a claimed delivery stays reserved to its sender; past it another sender retries.
    lease_seconds: float = 60.0
    # Fallback poll of the outbox; new messages wake the sender through NOTIFY anyway.
    poll_seconds: float = 1.0
    # After a rotation the old secret signs too (a second signature) for this long.
    secret_grace_seconds: float = 24 * 3600.0
    # Finished deliveries (and their attempts) are kept this long for GET …/deliveries.
    retention_days: float = 30.0
    # How much of a receiver's answer body is kept with each attempt.
    response_excerpt_bytes: int = 1024
    dispatch_batch_size: int = 500

    def retry_delay(self, failures_before: int, unit: float) -> float | None:
        """Wait after one more failure, jittered by `unit` in [0, 1); None when retries are spent.

        `failures_before` counts the failures of this delivery before the one just seen.
        """
        if failures_before >= len(self.retry_schedule):
            return None
        base = self.retry_schedule[failures_before]
        return base * (1.0 - self.jitter + 2 * self.jitter * unit)


def load_webhook_config(env: Mapping[str, str] | None = None, **overrides: object) -> WebhookConfig:
    """Reads `ADPIPE_WEBHOOK_RETRY_SCHEDULE` ("5,300,…" seconds) and friends; overrides win."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    if schedule := env.get("ADPIPE_WEBHOOK_RETRY_SCHEDULE"):
        values["retry_schedule"] = tuple(float(s) for s in schedule.split(",") if s.strip())
    for name, field in (
        ("ADPIPE_WEBHOOK_DISABLE_AFTER_SECONDS", "disable_after_seconds"),
        ("ADPIPE_WEBHOOK_TIMEOUT_SECONDS", "timeout_seconds"),
        ("ADPIPE_WEBHOOK_JITTER", "jitter"),
    ):
        if name in env:
            values[field] = float(env[name])
    if "ADPIPE_WEBHOOK_CONCURRENCY" in env:
        values["concurrency"] = int(env["ADPIPE_WEBHOOK_CONCURRENCY"])
    if "ADPIPE_WEBHOOK_CONCURRENCY_PER_USER" in env:
        values["concurrency_per_user"] = int(env["ADPIPE_WEBHOOK_CONCURRENCY_PER_USER"])
    values.update(overrides)
    return msgspec.convert(values, WebhookConfig)
