"""Every Prometheus metric adpipe exports, defined in one place with its unit in its name.

Conventions: the `adpipe_` prefix, base units (`_seconds`, `_bytes`), `_total` on counters, and
labels only of small, bounded sets (route templates, event types, outcomes — never ids). Metrics
read from Postgres or JetStream at scrape time live in `collectors.py`.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram, Info, disable_created_metrics

from adpipe import __version__

# No `_created` twin for every counter and histogram: Prometheus does not need them, and they
# double what an operator scrolls through on /metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds-scale buckets for whole stages of a job (planning takes seconds, a render minutes).
_STAGE_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)

BUILD: Final = Info("adpipe_build", "The running adpipe version.")
BUILD.info({"version": __version__})

# ---- HTTP API ------------------------------------------------------------------------------------

HTTP_REQUESTS: Final = Counter(
    "adpipe_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION: Final = Histogram(
    "adpipe_http_request_duration_seconds",
    "Time from a request's arrival to its response headers (streamed bodies not included).",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_IN_PROGRESS: Final = Gauge(
    "adpipe_http_requests_in_progress", "HTTP requests being handled right now."
)

# ---- the event log and the relay -----------------------------------------------------------------

EVENTS_APPENDED: Final = Counter(
    "adpipe_events_appended_total", "Events written to the event store, by type.", ["type"]
)
RELAY_PUBLISHED: Final = Counter(
    "adpipe_relay_published_total", "Events the relay published to JetStream (acked)."
)
RELAY_LEADER: Final = Gauge(
    "adpipe_relay_leader", "1 while this relay process holds the leader lock, else 0."
)

# ---- services ------------------------------------------------------------------------------------

DELIVERIES: Final = Counter(
    "adpipe_service_deliveries_total",
    "Messages a service handled, by service, event type and outcome (ok; skipped: the job had"
    " moved on; error: retried later or given up; permanent; cancelled: the process stopped).",
    ["service", "type", "outcome"],
)
HANDLE_DURATION: Final = Histogram(
    "adpipe_service_handle_duration_seconds",
    "Time a service's handler took for one message, by service and event type.",
    ["service", "type"],
    buckets=(*_CALL_BUCKETS, 300, 600, 1800),
)

# ---- jobs ----------------------------------------------------------------------------------------

JOB_STAGE_DURATION: Final = Histogram(
    "adpipe_job_stage_duration_seconds",
    "Time between two events of a job, from their recorded times: created_to_storyboard,"
    " approved_to_render_started (queueing) and approved_to_completed.",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
JOBS_FINISHED: Final = Counter(
    "adpipe_jobs_finished_total", "Jobs that reached an end, by status.", ["status"]
)
JOB_FAILURES: Final = Counter(
    "adpipe_job_failures_total", "Jobs that failed, by stage and error code.", ["stage", "code"]
)

# ---- rendering -----------------------------------------------------------------------------------

RENDER_FPS: Final = Histogram(
    "adpipe_render_frames_per_second",
    "Frames rendered per wall-clock second, one observation per finished render.",
    buckets=(5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 250, 400),
)
RENDER_REALTIME: Final = Histogram(
    "adpipe_render_realtime_ratio",
    "Seconds of video per wall-clock second of rendering (2 means twice as fast as real time).",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12),
)
RENDER_FRAMES: Final = Counter("adpipe_render_frames_total", "Frames rendered.")
RENDER_VIDEO_SECONDS: Final = Counter(
    "adpipe_render_video_seconds_total", "Seconds of finished video rendered."
)
RENDER_WALL_SECONDS: Final = Counter(
    "adpipe_render_wall_seconds_total", "Wall-clock seconds spent rendering finished videos."
)

# ---- model calls ---------------------------------------------------------------------------------

LLM_CALLS: Final = Counter(
    "adpipe_llm_calls_total",
    "Chat completions requested from an LLM provider, by model and outcome"
    " (ok, retried, rejected).",
    ["model", "outcome"],
)
LLM_TOKENS: Final = Counter(
    "adpipe_llm_tokens_total",
    "LLM tokens, by model and kind (prompt, completion).",
    ["model", "kind"],
)
LLM_COST: Final = Counter(
    "adpipe_llm_cost_usd_total", "What LLM calls cost in USD (litellm's price list).", ["model"]
)
LLM_DURATION: Final = Histogram(
    "adpipe_llm_call_duration_seconds",
    "Time one LLM call took, by model.",
    ["model"],
    buckets=_CALL_BUCKETS,
)
# Text-to-speech: defined here for the voice service (narration), which counts its calls with
# these once it lands; `model` is the voice engine or the litellm speech model.
TTS_CALLS: Final = Counter(
    "adpipe_tts_calls_total", "Text-to-speech calls, by model and outcome.", ["model", "outcome"]
)
TTS_CHARACTERS: Final = Counter(
    "adpipe_tts_characters_total", "Characters of script sent to text-to-speech.", ["model"]
)
TTS_COST: Final = Counter(
    "adpipe_tts_cost_usd_total", "What text-to-speech calls cost in USD.", ["model"]
)
TTS_DURATION: Final = Histogram(
    "adpipe_tts_call_duration_seconds",
    "Time one text-to-speech call took.",
    ["model"],
    buckets=_CALL_BUCKETS,
)

# ---- webhooks and limits -------------------------------------------------------------------------

WEBHOOK_DELIVERIES: Final = Counter(
    "adpipe_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, rejected: the receiver answered non-2xx,"
    " failed: no answer).",
    ["outcome"],
)
WEBHOOK_DURATION: Final = Histogram(
    "adpipe_webhook_delivery_duration_seconds",
    "Time one webhook delivery attempt took.",
    buckets=_CALL_BUCKETS,
)
WEBHOOKS_DISABLED: Final = Counter(
    "adpipe_webhooks_disabled_total", "Webhook endpoints disabled after failing for too long."
)
LIMIT_REJECTIONS: Final = Counter(
    "adpipe_limit_rejections_total",
    "Requests refused by a limit, by limit (upload_bytes, json_body_bytes, and per-user limits).",
    ["limit"],
)

SCRAPE_ERRORS: Final = Counter(
    "adpipe_scrape_errors_total",
    "Scrape-time collections that failed or timed out, by collector.",
    ["collector"],
)
