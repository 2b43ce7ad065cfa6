"""One message handled by a service, made visible: its ids on every log line, a span that continues
the trace of the event it carries, a duration and an outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adpipe.errors import InvalidTransition

from . import correlation, tracing
from .metrics import DELIVERIES, HANDLE_DURATION

if TYPE_CHECKING:
    from adpipe.events.catalogue import Envelope
    from adpipe.worker import Delivery

log = logging.getLogger("adpipe.worker")


def job_of(envelope: Envelope) -> str | None:
    """The job an event is about: its stream's, or the one its payload names."""
    if envelope.kind == "job":
        return envelope.entity_id
    job_id: object = getattr(envelope.data, "job_id", None)
    return job_id if isinstance(job_id, str) else None


def bind_envelope(service: str, envelope: Envelope) -> None:
    """The delivery's ids, for the rest of its task: the event, its job, the request that set the
    work off (a service's own events carry it on as their correlation id) and the user."""
    meta = envelope.metadata
    actor = meta.actor.removeprefix("user:") if meta.actor.startswith("user:") else None
    correlation.start_work()
    correlation.bind(
        role_name=service,
        request=meta.request_id or meta.correlation_id,
        job=job_of(envelope),
        event=envelope.id,
        user=actor or getattr(envelope.data, "user_id", None),
    )


async def observed_handle(
    service: str, handle: Callable[[Delivery], Awaitable[None]], delivery: Delivery
) -> None:
    """Runs `handle(delivery)` inside the delivery's ids and span, timing it by outcome."""
    from adpipe.worker import Permanent

    envelope = delivery.envelope
    bind_envelope(service, envelope)
    headers: dict[str, Any] = getattr(delivery.msg, "headers", None) or {}
    parent = headers.get("traceparent") or envelope.metadata.traceparent
    started = time.perf_counter()
    outcome = "error"  # handed back for a retry, or given up on when the attempts are spent
    skipped: InvalidTransition | None = None
    try:
        with tracing.span(
            f"{service} {envelope.type}",
            kind="consumer",
            parent=parent,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": envelope.subject,
                "messaging.message.id": envelope.id,
                "adpipe.job_id": job_of(envelope),
                "adpipe.attempt": delivery.attempt,
            },
        ):
            try:
                await handle(delivery)
            except InvalidTransition as exc:
                skipped = exc  # the job moved on: nothing to do, and no error in the trace
        outcome = "skipped" if skipped else "ok"
    except Permanent:
        outcome = "permanent"
        raise
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        seconds = time.perf_counter() - started
        DELIVERIES.labels(service, envelope.type, outcome).inc()
        HANDLE_DURATION.labels(service, envelope.type).observe(seconds)
        if outcome == "ok":
            log.info(
                "%s handled %s (attempt %d) in %.3f s",
                service,
                envelope.type,
                delivery.attempt,
                seconds,
            )
    if skipped is not None:
        raise skipped
