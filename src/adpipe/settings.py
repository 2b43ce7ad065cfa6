"""Settings in one place: a frozen struct read from the environment once and passed down.

Every tunable lives here with its default and the reason for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec


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
    # A message whose handling killed its process this many times fails its job with that
    # reason: a poisonous job costs two crashes, not one per remaining retry.
    max_crashes: int = 2
    # A handler running past its service's deadline is stopped and its message retried (then
    # failed), never kept alive by heartbeats. Each is a backstop past its engine's own bounds:
    # a URL's fetch is cut at 600 s and its probe at media_wall_seconds (300 s); an LLM call with
    # its provider retries at ~460 s (5 tries of at most 91 s); a render runs at about twice real
    # time at 1080p on two cores (x264 ~60 fps), so even the engine's 30-minute maximum fits.
    handler_deadline_seconds: dict[str, float] = msgspec.field(
        default_factory=lambda: {"downloader": 900.0, "planner": 600.0, "renderer": 1800.0}
    )
    # For any service not named above.
    default_handler_deadline_seconds: float = 300.0
    # On stop, a service's handlers get this long to finish; then they are stopped and their
    # messages handed straight to another instance, so a restart never waits out a render (a
    # supervisor's grace period before SIGKILL must be longer than this).
    service_drain_seconds: float = 10.0
    # Address space of a render's child process (services/renderer/sandboxed.py): a 1080p
    # render of a 12 MP still and a 1080p clip peaked at 0.72 GB (0.43 GB resident); near three
    # times that leaves room for 4K source clips and still stops a runaway.
    render_memory_bytes: int = 2 * 2**30

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

    # User media (uploads and downloads) is probed and previewed in a child process (see
    # adpipe.media) within these limits; a file past one is refused saying which.
    # Address space of that child: a 100 MP image takes ~400 MB to decode and ~300 MB more for
    # its preview, FFmpeg's frame threads add their buffers; a bomb stops here.
    media_memory_bytes: int = 1536 * 2**20
    # CPU seconds of one probe: demuxing 1 GB and decoding a few frames takes seconds, not minutes.
    media_cpu_seconds: int = 120
    # Wall-clock bound of one probe, CPU limit included: a busy machine stretches CPU seconds.
    media_wall_seconds: float = 300.0
    # Probes at once per process: one per core; more only queue for the CPU and add memory.
    media_concurrency: int = 2
    # Stills: camera photos stay below 100 MP, which decodes in ~400 MB.
    media_max_image_pixels: int = 100_000_000
    # Video frames: 8K DCI (8192x4320, 35 MP) is the largest real footage.
    media_max_frame_pixels: int = 36_000_000
    # Video frames per file (30 minutes at 120 fps): bounds the packets a probe walks through.
    media_max_frames: int = 216_000
    # Longest video or audio: a render lasts at most 30 minutes, so a longer source is no ad's.
    media_max_duration_seconds: float = 1800.0

    llm_model: str | None = None
    allow_private_urls: bool = False
    upload_max_bytes: int = 1024 * 1024 * 1024
    prices: Prices = Prices()

    @property
    def home_path(self) -> Path:
        return Path(self.home)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


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
    values.update(_limits_from(env))
    values.update(overrides)
    return msgspec.convert(values, Settings)


# Limits an operator tunes per deployment, read as ADPIPE_<NAME> (ADPIPE_MEDIA_MEMORY_BYTES=…).
_ENV_LIMITS = (
    "max_crashes",
    "default_handler_deadline_seconds",
    "render_memory_bytes",
    "media_memory_bytes",
    "media_cpu_seconds",
    "media_wall_seconds",
    "media_concurrency",
    "media_max_image_pixels",
    "media_max_frame_pixels",
    "media_max_frames",
    "media_max_duration_seconds",
)
_DEADLINE_PREFIX = "ADPIPE_HANDLER_DEADLINE_"  # + service name: ADPIPE_HANDLER_DEADLINE_RENDERER


def _limits_from(env: Mapping[str, str]) -> dict[str, object]:
    types = {f.name: f.type for f in msgspec.structs.fields(Settings)}
    found: dict[str, object] = {}
    for name in _ENV_LIMITS:
        raw = env.get(f"ADPIPE_{name.upper()}")
        if raw:
            try:
                found[name] = msgspec.convert(raw, types[name], strict=False)
            except msgspec.ValidationError as exc:
                raise ValueError(f"ADPIPE_{name.upper()}={raw!r}: {exc}") from None
    deadlines = {
        key.removeprefix(_DEADLINE_PREFIX).lower(): float(value)
        for key, value in env.items()
        if key.startswith(_DEADLINE_PREFIX) and value
    }
    if deadlines:
        found["handler_deadline_seconds"] = {**Settings().handler_deadline_seconds, **deadlines}
    return found
