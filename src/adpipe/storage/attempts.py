"""The attempt journal: a service notes each delivery it starts, in Postgres, before handling it.

A crash leaves no trace in the process that died, and JetStream's delivery count cannot tell a
crash from a retry; a row that outlives its process can. When a message comes back, the rows of
its earlier deliveries say how many of them crashed.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)


class CrashedAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """An earlier delivery that never finished (its process died) or whose work crashed."""

    delivery: int
    # What the work's child process said as it died; None when the whole process died.
    reason: str | None = None
    instance: str = ""
    started_at: datetime | None = None

    def describe(self) -> str:
        if self.reason is not None:
            return f"attempt {self.delivery}: {self.reason}"
        return f"attempt {self.delivery} died mid-work in process {self.instance}"


class Begun(msgspec.Struct, frozen=True, kw_only=True):
    """What the journal knows of an event's earlier deliveries when a new one begins."""

    crashes: list[CrashedAttempt] = []
    # Earlier deliveries handed back unstarted (fair share in use): not attempts.
    deferred: int = 0


class AttemptJournal(Protocol):
    async def begin(
        self, service: str, event_id: str, delivery: int, *, silent_after: float
    ) -> Begun:
        """Notes that `delivery` starts now; answers the earlier deliveries that crashed (those
        marked so, and those unsettled without a heartbeat for `silent_after` seconds) and how
        many were deferred."""
        ...

    async def beat(self, service: str, event_id: str, delivery: int) -> None:
        """The attempt is alive (called with every JetStream heartbeat)."""
        ...

    async def crashed(self, service: str, event_id: str, delivery: int, reason: str) -> None:
        """The attempt's work crashed a child process; it counts, and says why."""
        ...

    async def settle(self, service: str, event_id: str, delivery: int) -> None:
        """The attempt ended without crashing (it will be retried): it does not count."""
        ...

    async def defer(self, service: str, event_id: str, delivery: int) -> None:
        """The delivery was handed back unstarted: it is no attempt and no crash."""
        ...

    async def forget(self, service: str, event_id: str) -> None:
        """The event's work is over for good (acked or terminated): drop all its rows."""
        ...


def this_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PostgresAttemptJournal:
    def __init__(self, pool: AsyncConnectionPool[Any], instance: str | None = None) -> None:
        self.pool = pool
        self.instance = instance or this_instance()

    async def begin(
        self, service: str, event_id: str, delivery: int, *, silent_after: float
    ) -> Begun:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO service_attempts (service, event_id, delivery, instance)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (service, event_id, delivery) DO UPDATE SET"
                " instance = excluded.instance, started_at = now(), beat_at = now(), crash = NULL,"
                " deferred = false",
                [service, event_id, delivery, self.instance],
            )
            cur = await conn.execute(
                "SELECT delivery, instance, started_at, crash, deferred FROM service_attempts"
                " WHERE service = %s AND event_id = %s AND delivery <> %s"
                " AND (deferred OR crash IS NOT NULL"
                "      OR beat_at < now() - make_interval(secs => %s))"
                " ORDER BY delivery",
                [service, event_id, delivery, silent_after],
            )
            rows = await cur.fetchall()
        return Begun(
            crashes=[
                CrashedAttempt(delivery=r[0], instance=r[1], started_at=r[2], reason=r[3])
                for r in rows
                if not r[4]
            ],
            deferred=sum(1 for r in rows if r[4]),
        )

    async def beat(self, service: str, event_id: str, delivery: int) -> None:
        await self._run(
            "UPDATE service_attempts SET beat_at = now()"
            " WHERE service = %s AND event_id = %s AND delivery = %s",
            [service, event_id, delivery],
        )

    async def crashed(self, service: str, event_id: str, delivery: int, reason: str) -> None:
        await self._run(
            "UPDATE service_attempts SET crash = %s"
            " WHERE service = %s AND event_id = %s AND delivery = %s",
            [reason, service, event_id, delivery],
        )

    async def settle(self, service: str, event_id: str, delivery: int) -> None:
        await self._run(
            "DELETE FROM service_attempts WHERE service = %s AND event_id = %s AND delivery = %s",
            [service, event_id, delivery],
        )

    async def defer(self, service: str, event_id: str, delivery: int) -> None:
        await self._run(
            "UPDATE service_attempts SET deferred = true"
            " WHERE service = %s AND event_id = %s AND delivery = %s",
            [service, event_id, delivery],
        )

    async def forget(self, service: str, event_id: str) -> None:
        await self._run(
            "DELETE FROM service_attempts WHERE service = %s AND event_id = %s",
            [service, event_id],
        )

    async def _run(self, sql: str, params: list[Any]) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(sql, params)


class Attempts:
    """One service's notes in the journal, as its runner takes them; no-ops without a journal.

    Only `begin` raises (without its note a crash would go unseen, so the message must wait);
    the other writes are best effort: a lost one costs at most one crash counted wrongly, and the
    handler's outcome must still reach JetStream.
    """

    def __init__(self, journal: AttemptJournal | None, service: str, ack_wait: float) -> None:
        self.journal = journal
        self.service = service
        # Live attempts beat every third of ack_wait; a redelivery after a crash comes a full
        # ack_wait after the last beat. Half of it tells the two apart with margin both ways.
        self.silent_after = ack_wait / 2

    async def begin(self, event_id: str, delivery: int) -> Begun:
        if self.journal is None:
            return Begun()
        return await self.journal.begin(
            self.service, event_id, delivery, silent_after=self.silent_after
        )

    def beat(self, event_id: str, delivery: int) -> Callable[[], Awaitable[None]] | None:
        journal = self.journal
        if journal is None:
            return None

        async def beat() -> None:
            await journal.beat(self.service, event_id, delivery)

        return beat

    async def settle(self, event_id: str, delivery: int) -> None:
        if self.journal is not None:
            await self._safely(self.journal.settle(self.service, event_id, delivery))

    async def defer(self, event_id: str, delivery: int) -> None:
        if self.journal is not None:
            await self._safely(self.journal.defer(self.service, event_id, delivery))

    async def crashed(self, event_id: str, delivery: int, reason: str) -> None:
        if self.journal is not None:
            await self._safely(self.journal.crashed(self.service, event_id, delivery, reason))

    async def forget(self, event_id: str) -> None:
        if self.journal is not None:
            await self._safely(self.journal.forget(self.service, event_id))

    async def _safely(self, write: Awaitable[None]) -> None:
        try:
            await write
        except Exception as exc:
            log.warning("%s: attempt journal write failed: %s", self.service, exc)
