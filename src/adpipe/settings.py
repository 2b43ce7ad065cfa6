"""Settings in one place: a frozen struct read from the environment once and passed down.

Every tunable lives here with its default and the reason for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from adpipe.errors import AdpipeError, ValidationFailed


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
    # Cloud voices are priced per character spoken: OpenAI tts-1's list price ($15 per million).
    # The offline engine (espeak-ng) runs on our CPU for nothing.
    tts_per_character: float = 0.000015
    currency: str = "USD"


# The schedule Standard Webhooks senders commonly use (Svix's): the first try at once, then
# retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure — about 28 h in all.
STANDARD_RETRY_SCHEDULE: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The webhooks service's tunables (`Settings.webhooks`), each read as ADPIPE_WEBHOOK_<NAME>."""

    # The first attempt goes out at once; after the n-th failure the next one waits
    # retry_schedule[n-1] seconds (comma-separated). When it is spent the delivery has failed.
    retry_schedule: tuple[float, ...] = STANDARD_RETRY_SCHEDULE
    # Each retry delay is scaled by a random factor in [1 - jitter, 1 + jitter], so endpoints
    # that failed together do not all come back at the same instant.
    jitter: float = 0.1
    # An endpoint that has failed without a single success for this long is disabled (5 days).
    disable_after_seconds: float = 5 * 24 * 3600.0
    # Whole request bound; receivers should answer fast and do their work later.
    timeout_seconds: float = 15.0
    # A receiver that does not even accept the connection this fast is down, not slow.
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
    # Events the dispatcher routes in one transaction: the projector's batch size, same reasons.
    dispatch_batch_size: int = 500

    def retry_delay(self, failures_before: int, unit: float) -> float | None:
        """Wait after one more failure, jittered by `unit` in [0, 1); None when retries are spent.

        `failures_before` counts the failures of this delivery before the one just seen.
        """
        if failures_before >= len(self.retry_schedule):
            return None
        base = self.retry_schedule[failures_before]
        return base * (1.0 - self.jitter + 2 * self.jitter * unit)


class PlannerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How to plan (`Settings.planner`), each read as ADPIPE_LLM_<NAME>. Without a model the
    built-in planner answers and nothing leaves the machine."""

    # litellm model name ("openai/gpt-4o-mini", "ollama/llama3.1", …); None => built-in planner.
    model: str | None = None
    # Answers that fail validation are fed back to the model this many times in all.
    max_attempts: int = 3
    # 429s, 5xx, timeouts and connection errors per call; the provider is down after that.
    provider_retries: int = 4
    # First backoff delay in seconds; it doubles per retry, with jitter, up to retry_max_delay.
    retry_base_delay: float = 1.0
    # Cap on one backoff (and on a provider's Retry-After) so a job never waits minutes silently.
    retry_max_delay: float = 30.0
    # One LLM request; storyboards are short, so a minute is generous even for slow local models.
    timeout_seconds: float = 60.0
    # Endpoint override; otherwise litellm's own env vars (OPENAI_API_BASE, …) decide.
    api_base: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PlannerSettings:
        """Reads ADPIPE_LLM_* variables; provider keys stay in litellm's own variables."""
        return msgspec.convert(_section(env, cls, PLANNER_PREFIX), cls)


def half_the_cpus() -> int:
    """half the CPUs the process may use, at least 1"""
    return max(1, available_cpus() // 2)


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota (a
    container limited to 1.5 CPUs counts 1). os.cpu_count() sees the host's, not ours."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity mask is the limit
    return cpus


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every tunable, read by `load_settings`: field `name` from ADPIPE_<NAME> unless
    `VARIABLES` names another source. The comment above a field is its documented reason: the
    README's settings table is generated from them (`adpipe settings table`)."""

    # Postgres, the log and the read models; empty: the one `adpipe up` in `home` started.
    database_url: str = ""
    # NATS JetStream, which carries the log to the services; empty: as database_url.
    nats_url: str = ""
    # Where `adpipe up` keeps its data, blobs, chain key and stack file.
    home: str = ".adpipe"
    # Loopback by default: exposing the API is a deliberate choice.
    host: str = "127.0.0.1"
    # The API's port.
    port: int = 8080

    # Pool sized for one process on a 2-core box; appends serialise on a table lock anyway.
    pool_min_size: int = 1
    pool_max_size: int = 10
    # The API's own connections for its single-query reads (autocommit, no BEGIN/COMMIT round
    # trips): each read holds one for a fraction of a millisecond, so a few keep two cores busy.
    read_pool_size: int = 4
    # A pooled connection idle this long is closed (down to the pool's minimum, one every this
    # often): a burst's connections do not stay open for psycopg's 10 minutes, each one a Postgres
    # backend holding memory. Opening one again costs a few milliseconds.
    pool_max_idle_seconds: float = 10.0
    # The projector's pool (pool_max_size is the others'): its readers, one per read model, wake
    # together on every append and fold in turns on these. More than two cores keep busy would
    # only hold Postgres backends, each tens of MB of resident memory.
    projector_pool_size: int = 3
    # How long a request waits for a pooled connection before answering 503 (Postgres down).
    pool_timeout_seconds: float = 5.0
    # An append waits this long for the events table lock before failing as transient.
    append_lock_timeout_ms: int = 5000
    # Version conflicts are retried by re-deciding; past this many the caller sees 409.
    append_retries: int = 5
    # Subscribers re-read on NOTIFY; the poll is only a fallback for a lost notification.
    subscription_poll_seconds: float = 1.0
    # Events one log read returns: large enough to amortise the round trip, small enough to
    # keep a batch transaction short.
    read_batch_size: int = 500

    # Events the relay reads at once; it still publishes them one by one, in order.
    relay_batch_size: int = 500
    # The relay's fallback poll of the log when no NOTIFY arrives, and its leadership retry.
    relay_poll_seconds: float = 0.5
    # The JetStream stream that carries the log.
    stream_name: str = "ADPIPE"
    # JetStream dedups by Nats-Msg-Id within this window (seconds); consumers are idempotent anyway.
    duplicate_window_seconds: float = 120.0
    # Copies of the stream (and of every consumer) JetStream keeps: 1 on one nats-server; 3 on a
    # 3-node cluster, so that losing any node, its leader included, loses no event. Unset means 1
    # when the stream is created and otherwise what it has: a process started without
    # ADPIPE_STREAM_REPLICAS (a tool, a forgotten replica) never scales a cluster's stream down.
    stream_replicas: int | None = None

    # A message not acked within ack_wait is redelivered; heartbeats extend it for long work.
    ack_wait_seconds: float = 30.0
    # Attempts of one message before its job fails with the reason (we count, not the server).
    max_deliver: int = 5
    # Waits before the 2nd, 3rd, … attempt (comma-separated); the last repeats.
    retry_backoff_seconds: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)
    # Messages one service process handles at once (its semaphore's slots).
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
    # Frames per second of every render: 30 is what ad platforms expect. Lower only where the
    # motion does not matter (the API tests render at a few frames a second to stay fast).
    render_fps: int = 30
    # Renders one renderer process runs at once (ADPIPE_RENDER_CONCURRENCY); jobs beyond wait in
    # the order they were approved, with their queue position on the job. One render keeps two
    # cores busy (x264's two frame threads plus compositing, engine/encode.py), so the default
    # is half the CPUs this process may use (affinity, and a cgroup's quota when one is set).
    render_concurrency: Annotated[int, msgspec.Meta(ge=1)] = msgspec.field(
        default_factory=half_the_cpus
    )
    # Seconds of rendering per second of video assumed for queue estimates until a render has
    # finished and been measured (720p renders at ~4x real time on two cores, 1080p at ~2x).
    render_seconds_per_video_second: float = 0.4

    # Per-user limits (429 with Retry-After past them; other users are unaffected).
    # Unfinished jobs: a marketer reviews a handful at once; beyond that it is a script.
    max_active_jobs_per_user: int = 25
    # Requests a second per user, per API process, with bursts of this many seconds' worth:
    # a studio polling and uploading stays far below; a runaway loop does not.
    requests_per_second_per_user: float = 50.0
    request_burst_seconds: float = 2.0
    # Upload bytes per rolling 24 h: a day of heavy ad work, not a free file host.
    upload_bytes_per_day_per_user: int = 20 * 1024**3
    # Webhook subscriptions: every one costs a delivery per event.
    max_webhooks_per_user: int = 20

    # The API trusts a key it found live this many seconds without asking Postgres again (a
    # query per request was most of a read's cost). Revoking a key in the same process takes
    # effect at once; a revocation from elsewhere (another API process, `adpipe keys revoke`)
    # within this bound. 0 checks every request against Postgres.
    api_key_cache_seconds: float = 1.0
    # Single-resource reads (a job, its scenes, a client, a campaign, an asset) answered from
    # the API process's memory until a read model moves, and never for longer than this (see
    # api.grouped_reads). 0 reads Postgres on every request.
    read_cache_seconds: float = 1.0

    # A comment line this often keeps proxies from closing an idle SSE stream; a revoked key's
    # streams close within one.
    sse_heartbeat_seconds: float = 15.0
    # Live streams one API key may hold open at once: enough for a studio in several tabs, not
    # enough for one key to hold every connection of the process.
    sse_streams_per_key: int = 20

    # An Idempotency-Key claim is a lease this long: longer than any request's work after its
    # claim (POST /jobs waits at most storyboard_wait_seconds), short enough that a key whose
    # claim could not be released (the database went away) works again soon after.
    idempotency_claim_seconds: float = 120.0
    # Stored answers to Idempotency-Key requests are kept this long (a day, as payment APIs do).
    idempotency_keep_hours: float = 24.0

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
    # Jobs (or URL assets) of one user the downloader works on at once, per process; always
    # below service_concurrency, so a user whose URLs drip a byte every 20 s (each download may
    # take up to 600 s) or who queues many jobs leaves the other slots to other users. Messages
    # past the share are handed back for fair_share_retry_seconds, without spending a retry.
    download_jobs_per_user: int = 2
    # How soon a message deferred for its user's share comes back: short enough that a freed
    # share is used within seconds, long enough that waiting messages do not spin.
    fair_share_retry_seconds: float = 2.0
    # A remote server's Retry-After is honoured up to this many seconds, never past it: a host
    # answering `Retry-After: 100000` must not park a user's job for a day. Longer answers are
    # cut to this (the retries that follow still end the job if the host never recovers).
    download_max_retry_after_seconds: float = 60.0

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

    # The storyboard's litellm model for every process (ADPIPE_LLM_MODEL); None: built-in planner.
    llm_model: str | None = None
    # The secret that keys the log's tamper-evident chain; never stored in the database.
    # From ADPIPE_CHAIN_KEY, the file ADPIPE_CHAIN_KEY_FILE names, or <home>/chain.key (which
    # `adpipe up` creates). None: plain SHA-256 links, which catch accidents but not a forger.
    chain_key: str | None = None

    # Text-to-speech. Without a model the offline engine (espeak-ng, from its wheel) speaks; a
    # litellm speech model ("openai/tts-1") adds the provider's cloud voices, reached through
    # litellm's usual variables (OPENAI_API_KEY, OPENAI_API_BASE / OPENAI_BASE_URL).
    tts_model: str | None = None
    # The voice of a job whose request names none; None: the cloud default with a model, else
    # espeak-ng's American English.
    tts_voice: str | None = None
    # One synthesis may take this long: a hung engine or provider is cut off and retried.
    tts_timeout_seconds: float = 30.0
    # A transient failure (provider 429/5xx, timeout) is retried this many times, with the
    # services' backoff, before the narration fails with the reason.
    tts_retries: int = 3

    # Asset and webhook URLs may name private addresses: only for tests and closed networks.
    allow_private_urls: bool = False
    # One upload's size: a 1080p source clip of a few minutes fits with room to spare.
    upload_max_bytes: int = 1024 * 1024 * 1024
    # The price table behind estimates and costs (code only: it is part of the product).
    prices: Prices = Prices()
    # The webhooks service (ADPIPE_WEBHOOK_<NAME>).
    webhooks: WebhookConfig = WebhookConfig()
    # The storyboard planner (ADPIPE_LLM_<NAME>).
    planner: PlannerSettings = PlannerSettings()

    # Observability. Logs: "text" for people at a terminal, "json" (one object per line) for a
    # log pipeline. Worker roles serve Prometheus metrics on metrics_port + their role's offset
    # (see adpipe.observability.serve); None keeps them off, 0 asks the kernel for any port.
    log_format: Literal["text", "json"] = "text"
    metrics_port: int | None = None
    # Loopback by default: metrics say a lot about the business; expose them deliberately.
    metrics_host: str = "127.0.0.1"
    # Where OpenTelemetry spans go (OTLP/HTTP); None means tracing is off and costs nothing.
    otlp_traces_endpoint: str | None = None
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


CHAIN_KEY_FILE = "chain.key"
# Written by `adpipe up` while it runs: how tools beside it (`adpipe keys`, `adpipe replay`, …,
# with the same ADPIPE_HOME) reach its Postgres and NATS without DATABASE_URL and NATS_URL.
STACK_FILE = "stack.json"


class RunningStack(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    database_url: str
    nats_url: str
    pid: int


def running_stack(home: str | Path) -> RunningStack | None:
    """What `adpipe up` in `home` wrote about itself, if anything (it may have died since)."""
    try:
        return msgspec.json.decode((Path(home) / STACK_FILE).read_bytes(), type=RunningStack)
    except (OSError, msgspec.DecodeError):
        return None


def write_running_stack(home: str | Path, stack: RunningStack) -> None:
    path = Path(home) / STACK_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(msgspec.json.encode(stack))
    tmp.replace(path)


def forget_running_stack(home: str | Path) -> None:
    (Path(home) / STACK_FILE).unlink(missing_ok=True)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _chain_key(env: Mapping[str, str], home: str) -> str | None:
    if env.get("ADPIPE_CHAIN_KEY"):
        return env["ADPIPE_CHAIN_KEY"]
    path = Path(env["ADPIPE_CHAIN_KEY_FILE"]) if env.get("ADPIPE_CHAIN_KEY_FILE") else None
    if path is None and (Path(home) / CHAIN_KEY_FILE).is_file():
        path = Path(home) / CHAIN_KEY_FILE
    if path is None:
        return None
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"the chain key in {path} is too short: use at least 32 characters")
    return key


def _whole(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    text = env[name].strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise AdpipeError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def otlp_traces_endpoint(env: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL from the standard OpenTelemetry variables, or None when unset or
    disabled (the SDK's rules: the per-signal variable wins; the generic one gets /v1/traces)."""
    if _flag(env.get("OTEL_SDK_DISABLED")) or env.get("OTEL_TRACES_EXPORTER", "").strip() == "none":
        return None
    if traces := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
        return traces
    if base := env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return base.rstrip("/") + "/v1/traces"
    return None


def _observability(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {"otlp_traces_endpoint": otlp_traces_endpoint(env)}
    if log_format := env.get("ADPIPE_LOG_FORMAT", "").strip().lower():
        if log_format not in ("text", "json"):
            raise ValidationFailed(f"ADPIPE_LOG_FORMAT is {log_format!r}; use text or json")
        values["log_format"] = log_format
    port = env.get("ADPIPE_METRICS_PORT", "").strip().lower()
    if port and port not in {"off", "none", "no", "false"}:
        if not port.isdigit() or int(port) > 65535:
            raise ValidationFailed(f"ADPIPE_METRICS_PORT is {port!r}; use a port number or off")
        values["metrics_port"] = int(port)
    if host := env.get("ADPIPE_METRICS_HOST", "").strip():
        values["metrics_host"] = host
    return values


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
    values: dict[str, object] = _section(env, Settings, "ADPIPE_", skip=_READ_APART)
    values["database_url"] = env.get("DATABASE_URL", "")
    values["nats_url"] = env.get("NATS_URL", "")
    values["allow_private_urls"] = _flag(env.get("ADPIPE_ALLOW_PRIVATE_URLS"))
    home = str(values.get("home", Settings.home))
    values["chain_key"] = _chain_key(env, home)
    if not values["database_url"] and (stack := running_stack(home)) is not None:
        values["database_url"] = stack.database_url
        values["nats_url"] = values["nats_url"] or stack.nats_url
    values.update(_observability(env))
    # The cluster: how many copies JetStream keeps (1 to 5, checked here).
    if "ADPIPE_STREAM_REPLICAS" in env:
        values["stream_replicas"] = _whole(env, "ADPIPE_STREAM_REPLICAS", 1, 5)
    deadlines = {
        key.removeprefix(_DEADLINE_PREFIX).lower(): float(value)
        for key, value in env.items()
        if key.startswith(_DEADLINE_PREFIX) and value
    }
    if deadlines:
        values["handler_deadline_seconds"] = {**Settings().handler_deadline_seconds, **deadlines}
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
    for name, (prefix, section) in SECTIONS.items():
        values[name] = _section(env, section, prefix)
    values.update(overrides)
    return msgspec.convert(values, Settings)


_DEADLINE_PREFIX = "ADPIPE_HANDLER_DEADLINE_"  # + service name: ADPIPE_HANDLER_DEADLINE_RENDERER
PLANNER_PREFIX = "ADPIPE_LLM_"
WEBHOOK_PREFIX = "ADPIPE_WEBHOOK_"

# Nested sections of Settings: each of their fields is read as <prefix><NAME>.
SECTIONS: dict[str, tuple[str, type[msgspec.Struct]]] = {
    "webhooks": (WEBHOOK_PREFIX, WebhookConfig),
    "planner": (PLANNER_PREFIX, PlannerSettings),
}

# Fields not read as ADPIPE_<NAME>: where each comes from instead (None: set in code only).
VARIABLES: dict[str, str | None] = {
    "database_url": "DATABASE_URL",
    "nats_url": "NATS_URL",
    "chain_key": "ADPIPE_CHAIN_KEY / ADPIPE_CHAIN_KEY_FILE",
    "otlp_traces_endpoint": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT",
    "handler_deadline_seconds": "ADPIPE_HANDLER_DEADLINE_<SERVICE>",
    "replicas": "ADPIPE_REPLICAS_<ROLE>",
    "download_max_bytes": None,
    "prices": None,
}
# Read above by their own rules (validation, other names, prefixes), not by the generic reader.
_READ_APART = frozenset(
    {
        *VARIABLES,
        *SECTIONS,
        "allow_private_urls",
        "log_format",
        "metrics_port",
        "metrics_host",
        "stream_replicas",
        "restart_backoff_seconds",
        "restart_backoff_max_seconds",
        "restart_backoff_reset_seconds",
        "stop_grace_seconds",
    }
)

# Variables read outside this module, on purpose:
# - LITELLM_LOCAL_MODEL_COST_MAP is set (setdefault) wherever litellm is imported, before the
#   import: litellm reads it at import time to use its bundled cost map instead of the internet.
# - OPENAI_API_KEY, OPENAI_API_BASE / OPENAI_BASE_URL and the other providers' variables are
#   litellm's own; the planner and voice pass nothing, so litellm finds them where users expect.
# - ADPIPE_SUPERVISOR_PID (runtime/lifeline.py) and ADPIPE_ROLE_LABEL (cli.py) are how
#   `adpipe up` tells the processes it starts who their parent is and what to call themselves:
#   wiring between our own processes, not tunables an operator sets.
# - The sandbox (sandbox/runner.py), the embedded Postgres (runtime/postgres.py) and
#   `adpipe up` (runtime/stack.py) copy or filter os.environ to build a child process's
#   environment: they pass variables on, they do not read settings from them.


def _section(
    env: Mapping[str, str],
    struct: type[msgspec.Struct],
    prefix: str,
    skip: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """The struct's fields set in `env` as <prefix><NAME>, converted to their types.

    A variable that is set must parse (ValueError naming it); a blank one counts as unset.
    Tuples are comma-separated ("1,5,15").
    """
    found: dict[str, object] = {}
    for field in msgspec.structs.fields(struct):
        variable = f"{prefix}{field.name.upper()}"
        raw = env.get(variable, "").strip()
        if field.name in skip or not raw:
            continue
        value: object = raw
        if field.type == tuple[float, ...]:
            value = [part.strip() for part in raw.split(",") if part.strip()]
        try:
            found[field.name] = msgspec.convert(value, field.type, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"{variable}={raw!r}: {exc}") from None
    return found
