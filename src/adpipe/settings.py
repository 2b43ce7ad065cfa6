"""Settings in one place: a frozen struct read from the environment once and passed down.

Every tunable lives here with its default and the reason for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from adpipe.errors import ValidationFailed


class Prices(msgspec.Struct, frozen=True, kw_only=True):
    """The documented price table (USD) behind dry-run estimates and real job costs."""

    # Rendering is our own CPU time; priced per second of output video by resolution.
    render_per_second: dict[str, float] = msgspec.field(
        default_factory=lambda: {"720p": 0.02, "1080p": 0.04}
    )
    # Blob storage per GB stored, charged once when the bytes land.
    storage_per_gb: float = 0.10
    # The built-in planner runs locally: a flat token charge so dry-run and job agree.
    builtin_planning: float = 0.0
    # Estimate for an LLM storyboard when litellm's cost map does not know the model.
    llm_planning_estimate: float = 0.01
    currency: str = "USD"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = ""
    nats_url: str = ""
    home: str = ".adpipe"
    host: str = "127.0.0.1"
    port: int = 8080

    # Pool sized for one process on a 2-core box; appends serialise on a table lock anyway.
    pool_min_size: int = 1
    pool_max_size: int = 10
    # How long a request waits for a pooled connection before answering 503 (Postgres down).
    pool_timeout_seconds: float = 5.0
    # An append waits this long for the events table lock before failing as transient.
    append_lock_timeout_ms: int = 5000
    # Version conflicts are retried by re-deciding; past this many the caller sees 409.
    append_retries: int = 5
    # Subscribers re-read on NOTIFY; the poll is only a fallback for a lost notification.
    subscription_poll_seconds: float = 1.0
    read_batch_size: int = 500

    relay_batch_size: int = 500
    relay_poll_seconds: float = 0.5
    stream_name: str = "ADPIPE"
    # JetStream dedups by Nats-Msg-Id within this window (seconds); consumers are idempotent anyway.
    duplicate_window_seconds: float = 120.0

    # A message not acked within ack_wait is redelivered; heartbeats extend it for long work.
    ack_wait_seconds: float = 30.0
    max_deliver: int = 5
    retry_backoff_seconds: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)
    service_concurrency: int = 4

    # How long the API waits for projections to reach its own write (read-your-writes).
    projection_wait_seconds: float = 10.0
    # How long POST /jobs waits for the storyboard before answering 202.
    storyboard_wait_seconds: float = 60.0

    # Downloads of asset URLs (the downloader service and webhook URL checks).
    download_connect_timeout: float = 10.0
    download_read_timeout: float = 30.0  # longest silence between two chunks of a body
    download_max_redirects: int = 5
    download_max_bytes: dict[str, int] = msgspec.field(
        default_factory=lambda: {"image": 50_000_000, "video": 1_000_000_000, "audio": 200_000_000}
    )
    download_retries: int = 3
    # Downloads of one job run concurrently, this many at a time.
    download_concurrency: int = 4

    llm_model: str | None = None
    allow_private_urls: bool = False
    upload_max_bytes: int = 1024 * 1024 * 1024
    prices: Prices = Prices()

    # `adpipe up` runs each role as its own processes: how many of each (ADPIPE_REPLICAS_<ROLE>,
    # e.g. ADPIPE_REPLICAS_RENDERER=2). A role not named runs one; 0 leaves it to another machine.
    replicas: dict[str, int] = msgspec.field(default_factory=dict)
    # A role process that dies is restarted after this delay, doubled for each death in a row and
    # capped, so a crash loop (a bad config, Postgres gone) costs little CPU and fills no disk.
    restart_backoff_seconds: float = 0.5
    restart_backoff_max_seconds: float = 30.0
    # A process that ran this long before dying counts as healthy: its backoff starts over.
    restart_backoff_reset_seconds: float = 60.0
    # On stop, role processes get SIGTERM and this long to finish in-flight work, then SIGKILL.
    # Services ack nothing they did not finish, so a killed handler's message is redelivered.
    stop_grace_seconds: float = 15.0

    @property
    def home_path(self) -> Path:
        return Path(self.home)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


REPLICAS_PREFIX = "ADPIPE_REPLICAS_"


def _number(variable: str, raw: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ValidationFailed(
            f"{variable} must be a non-negative {kind.__name__}, not {raw!r}",
            [{"field": variable, "message": f"a non-negative {kind.__name__}"}],
        )
    return value


def _replicas(env: Mapping[str, str]) -> dict[str, int]:
    """ADPIPE_REPLICAS_RENDERER=2 -> {"renderer": 2}; role names are checked where roles live."""
    return {
        key.removeprefix(REPLICAS_PREFIX).lower(): int(_number(key, value, int))
        for key, value in env.items()
        if key.startswith(REPLICAS_PREFIX)
    }


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read the environment once; explicit overrides win (tests and the embedded runtime)."""
    env = os.environ if env is None else env
    values: dict[str, object] = {
        "database_url": env.get("DATABASE_URL", ""),
        "nats_url": env.get("NATS_URL", ""),
        "home": env.get("ADPIPE_HOME", ".adpipe"),
        "host": env.get("ADPIPE_HOST", "127.0.0.1"),
        "port": int(env.get("ADPIPE_PORT", "8080")),
        "llm_model": env.get("ADPIPE_LLM_MODEL") or None,
        "allow_private_urls": _flag(env.get("ADPIPE_ALLOW_PRIVATE_URLS")),
    }
    if "ADPIPE_UPLOAD_MAX_BYTES" in env:
        values["upload_max_bytes"] = int(env["ADPIPE_UPLOAD_MAX_BYTES"])
    values["replicas"] = _replicas(env)
    for name in (
        "restart_backoff_seconds",
        "restart_backoff_max_seconds",
        "restart_backoff_reset_seconds",
        "stop_grace_seconds",
    ):
        variable = f"ADPIPE_{name.upper()}"
        if variable in env:
            values[name] = _number(variable, env[variable], float)
    values.update(overrides)
    return msgspec.convert(values, Settings)
