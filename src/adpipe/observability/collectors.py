"""Metrics read at scrape time: how far each log reader trails the head (Postgres), and how much
each JetStream consumer has waiting.

Prometheus scrapes from another thread (the metrics port's server, or `asyncio.to_thread` in the
API), while Postgres pools and NATS clients belong to an event loop. So a collector hands its
query to the owning loop and waits, bounded, for the answer: a slow or dead dependency costs a
scrape at most `SCRAPE_TIMEOUT` seconds and shows as `adpipe_scrape_errors_total`, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from .metrics import SCRAPE_ERRORS

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT = 2.0
T = TypeVar("T")
# (checkpoint name, its position, the log's head, when its oldest unread event was recorded)
LagRow = tuple[str, int, int, datetime | None]

# One query for every reader of the log: its checkpoint, the head, and when the oldest event it
# has not read yet was recorded (a primary-key probe each; checkpoints has a handful of rows).
_LAG_QUERY = """
SELECT c.name, c.position, h.head,
       (SELECT e.recorded_at FROM events e WHERE e.position > c.position
        ORDER BY e.position LIMIT 1)
FROM checkpoints c, (SELECT coalesce(max(position), 0) AS head FROM events) h
"""


def _on_loop(loop: asyncio.AbstractEventLoop, work: Callable[[], Awaitable[T]]) -> T:
    """Runs `work()` on `loop` from a scrape thread and waits for it, bounded."""
    if loop.is_closed() or not loop.is_running():
        raise RuntimeError("the event loop that owns this source has stopped")
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        # Blocking here would deadlock the loop: /metrics handlers scrape in a thread.
        raise RuntimeError("scraped from inside its own event loop")

    async def bounded() -> T:
        async with asyncio.timeout(SCRAPE_TIMEOUT):
            return await work()

    return asyncio.run_coroutine_threadsafe(bounded(), loop).result(SCRAPE_TIMEOUT + 1)


class LogLagCollector(Collector):
    """Relay, projection and webhook-dispatch lag, from the `checkpoints` table.

    Any process with a pool may offer it as a source (the API and the projector do); one source
    answers per scrape, so a process running several roles reports each series once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: list[tuple[asyncio.AbstractEventLoop, AsyncConnectionPool[Any]]] = []

    @contextlib.contextmanager
    def watching(self, pool: AsyncConnectionPool[Any]) -> Iterator[None]:
        entry = (asyncio.get_running_loop(), pool)
        with self._lock:
            self._sources.append(entry)
        try:
            yield
        finally:
            with self._lock:
                with contextlib.suppress(ValueError):
                    self._sources.remove(entry)

    def describe(self) -> list[Metric]:
        return self._families()

    def collect(self) -> list[Metric]:
        with self._lock:
            sources = list(self._sources)
        for loop, pool in sources:
            try:
                rows = _on_loop(loop, lambda pool=pool: _read_lag(pool))  # type: ignore[misc]
            except Exception as exc:
                log.debug("log lag scrape failed: %s", exc)
                SCRAPE_ERRORS.labels("log_lag").inc()
                continue
            return self._families(rows)
        return []

    def _families(self, rows: Sequence[LagRow] = ()) -> list[Metric]:
        head = GaugeMetricFamily(
            "adpipe_event_log_head_position", "Global position of the newest event in the log."
        )
        relay_events = GaugeMetricFamily(
            "adpipe_relay_lag_events", "Events in the log the relay has not published yet."
        )
        relay_seconds = GaugeMetricFamily(
            "adpipe_relay_lag_seconds",
            "Age of the oldest event the relay has not published yet (0 when caught up).",
        )
        proj_events = GaugeMetricFamily(
            "adpipe_projection_lag_events",
            "Events in the log a projection has not applied yet.",
            labels=["projection"],
        )
        proj_seconds = GaugeMetricFamily(
            "adpipe_projection_lag_seconds",
            "Age of the oldest event a projection has not applied yet (0 when caught up).",
            labels=["projection"],
        )
        other_events = GaugeMetricFamily(
            "adpipe_subscriber_lag_events",
            "Events another reader of the log (the webhook dispatcher) has not handled yet.",
            labels=["subscriber"],
        )
        now = datetime.now(UTC)
        for name, position, log_head, oldest in rows:
            behind = max(0, log_head - position)
            age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
            if name == "relay":
                relay_events.add_metric([], behind)
                relay_seconds.add_metric([], age)
            elif name.startswith("projection:"):
                projection = name.removeprefix("projection:")
                proj_events.add_metric([projection], behind)
                proj_seconds.add_metric([projection], age)
            else:
                other_events.add_metric([name], behind)
        if rows:
            head.add_metric([], rows[0][2])
        return [head, relay_events, relay_seconds, proj_events, proj_seconds, other_events]


async def _read_lag(pool: AsyncConnectionPool[Any]) -> list[LagRow]:
    async with pool.connection() as conn:
        cur = await conn.execute(_LAG_QUERY)
        return [(str(r[0]), int(r[1]), int(r[2]), r[3]) for r in await cur.fetchall()]


class JetStreamCollector(Collector):
    """Messages waiting per durable consumer, from `consumer_info` at scrape time.

    Each service registers its consumer when it (re)binds; a source whose NATS connection has
    closed is dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[
            tuple[str, str], tuple[asyncio.AbstractEventLoop, JetStreamContext]
        ] = {}

    def watch(self, js: JetStreamContext, stream: str, consumer: str) -> None:
        with self._lock:
            self._sources[(stream, consumer)] = (asyncio.get_running_loop(), js)

    def describe(self) -> list[Metric]:
        return list(self._families().values())

    def _families(self) -> dict[str, GaugeMetricFamily]:
        labels = ["stream", "consumer"]
        return {
            "pending": GaugeMetricFamily(
                "adpipe_jetstream_consumer_pending_messages",
                "Messages in the stream a consumer has not been delivered yet.",
                labels=labels,
            ),
            "ack_pending": GaugeMetricFamily(
                "adpipe_jetstream_consumer_ack_pending_messages",
                "Messages delivered to a consumer and not acked yet (work in progress).",
                labels=labels,
            ),
            "redelivered": GaugeMetricFamily(
                "adpipe_jetstream_consumer_redelivered_messages",
                "Messages delivered to a consumer more than once and not acked yet.",
                labels=labels,
            ),
        }

    def collect(self) -> list[Metric]:
        with self._lock:
            sources = dict(self._sources)
        families = self._families()
        for (stream, consumer), (loop, js) in sources.items():
            if _closed(js) or loop.is_closed():
                with self._lock:
                    if self._sources.get((stream, consumer)) == (loop, js):
                        del self._sources[(stream, consumer)]
                continue
            try:
                info = _on_loop(
                    loop,
                    lambda js=js, s=stream, c=consumer: js.consumer_info(  # type: ignore[misc]
                        s, c, timeout=SCRAPE_TIMEOUT
                    ),
                )
            except Exception as exc:
                log.debug("consumer_info of %s failed: %s", consumer, exc)
                SCRAPE_ERRORS.labels("jetstream").inc()
                continue
            values = [stream, consumer]
            families["pending"].add_metric(values, info.num_pending or 0)
            families["ack_pending"].add_metric(values, info.num_ack_pending or 0)
            families["redelivered"].add_metric(values, info.num_redelivered or 0)
        return list(families.values())


def _closed(js: JetStreamContext) -> bool:
    client = getattr(js, "_nc", None)
    return bool(getattr(client, "is_closed", False))


LOG_LAG = LogLagCollector()
JETSTREAM = JetStreamCollector()
REGISTRY.register(LOG_LAG)
REGISTRY.register(JETSTREAM)
