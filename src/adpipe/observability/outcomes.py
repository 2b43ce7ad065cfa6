"""Finished pieces of work, counted where they finish: renders (with their speed) and webhook
delivery attempts (by outcome)."""

from __future__ import annotations

from .metrics import (
    RENDER_FPS,
    RENDER_FRAMES,
    RENDER_REALTIME,
    RENDER_VIDEO_SECONDS,
    RENDER_WALL_SECONDS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DURATION,
    WEBHOOKS_DISABLED,
)


def record_render(*, frames: int, video_seconds: float, wall_seconds: float) -> None:
    """One finished render: `frames` frames of `video_seconds` of video in `wall_seconds`."""
    RENDER_FRAMES.inc(frames)
    RENDER_VIDEO_SECONDS.inc(video_seconds)
    RENDER_WALL_SECONDS.inc(wall_seconds)
    if wall_seconds > 0:
        RENDER_FPS.observe(frames / wall_seconds)
        RENDER_REALTIME.observe(video_seconds / wall_seconds)


def record_webhook_delivery(*, status_code: int | None, delivered: bool, seconds: float) -> None:
    """delivered; rejected (the receiver answered, but not 2xx); failed (no answer at all)."""
    if delivered:
        outcome = "delivered"
    elif status_code is not None:
        outcome = "rejected"
    else:
        outcome = "failed"
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_DURATION.observe(max(0.0, seconds))


def record_webhook_disabled() -> None:
    WEBHOOKS_DISABLED.inc()
