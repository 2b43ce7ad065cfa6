"""The relay: publishes the log to JetStream in global order, exactly one leader at a time.

Leadership is a Postgres session advisory lock held on a dedicated connection; the checkpoint is
advanced through that same connection only after JetStream acked, so a relay that lost its lock
(or its connection) cannot move the checkpoint. A new leader republishes from the checkpoint with
the same `Nats-Msg-Id`s, which JetStream drops as duplicates within its window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import psycopg

from adpipe.events.catalogue import Envelope, encode
from adpipe.observability import correlation, tracing
from adpipe.observability.metrics import RELAY_LEADER
from adpipe.observability.relay import observed_publish

from .bus import ensure_stream
from .storage.catchup import read_checkpoint
from .storage.subscription import Waker, follow

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from .storage.eventstore import EventStore

log = logging.getLogger(__name__)

RELAY_LOCK = 0x61647069_70650002
CHECKPOINT = "relay"


class Relay:
    def __init__(
        self,
        store: EventStore,
        js: JetStreamContext,
        conninfo: str,
        *,
        waker: Waker | None = None,
        stream_name: str = "ADPIPE",
        replicas: int | None = None,
        duplicate_window: float | None = None,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.js = js
        self.conninfo = conninfo
        self.waker = waker
        self.stream_name = stream_name
        # Used only if the stream has vanished (a fresh NATS): re-created as configured.
        self.replicas = replicas
        self.duplicate_window = duplicate_window
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.is_leader = asyncio.Event()

    async def run(self) -> None:
        """Waits for leadership, relays until it is lost, and tries again; cancel to stop."""
        correlation.bind(role_name="relay")
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as leader:
                    await self._wait_for_lock(leader)
                    self.is_leader.set()
                    RELAY_LEADER.set(1)
                    log.info("relay is the leader")
                    await self._relay(leader)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay stopped leading (%s); retrying", exc)
            finally:
                self.is_leader.clear()
                RELAY_LEADER.set(0)
            await asyncio.sleep(self.poll_seconds)

    async def _wait_for_lock(self, leader: psycopg.AsyncConnection[Any]) -> None:
        while True:
            cur = await leader.execute("SELECT pg_try_advisory_lock(%s)", [RELAY_LOCK])
            row = await cur.fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(self.poll_seconds)

    async def _relay(self, leader: psycopg.AsyncConnection[Any]) -> None:
        position = await read_checkpoint(leader, CHECKPOINT)
        batches = follow(
            self.store,
            position,
            self.waker,
            batch_size=self.batch_size,
            poll_seconds=self.poll_seconds,
        )
        async with contextlib.aclosing(batches):
            async for batch in batches:
                for envelope in batch:
                    await self._publish(envelope)
                await leader.execute(
                    "UPDATE checkpoints SET position = %s, updated_at = now() WHERE name = %s",
                    [batch[-1].position, CHECKPOINT],
                )

    @observed_publish  # a producer span; its context goes out in the traceparent header
    async def _publish(self, envelope: Envelope) -> None:
        """Publishes one event, retrying until JetStream acks it: NATS down means waiting."""
        delay = 0.1
        while True:
            try:
                # One at a time, awaiting each ack: a pipelined batch whose middle message failed
                # would be republished after its successors and break the stream's order.
                await self.js.publish(
                    envelope.subject,
                    encode(envelope),
                    stream=self.stream_name,
                    headers={
                        "Nats-Msg-Id": envelope.id,
                        **tracing.message_headers(envelope.metadata.traceparent),
                    },
                    timeout=5,
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("publish of %s failed (%s); retrying", envelope.position, exc)
                await asyncio.sleep(delay)
                with contextlib.suppress(Exception):  # a fresh NATS may lack the stream
                    await ensure_stream(
                        self.js, self.stream_name, self.duplicate_window, replicas=self.replicas
                    )
                delay = min(delay * 2, 2.0)
