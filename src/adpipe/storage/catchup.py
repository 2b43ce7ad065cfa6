"""One catch-up reader of the log: checkpointed, exactly-once batches, then following live.

Projections and the webhook dispatcher are both this reader with a different fold. A batch's
effects and its checkpoint commit in one transaction, and the transaction first locks the
checkpoint row and checks it still holds the position the batch started from: two readers of the
same name (two processes, or a rebuild beside a live one) can never apply a batch twice, and a
crash leaves either the whole batch or none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from adpipe.tasks import raise_if_cancelling

from .subscription import follow

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from adpipe.events.catalogue import Envelope

    from .eventstore import EventStore
    from .subscription import Waker

log = logging.getLogger(__name__)

# What a reader does with a batch, inside the transaction that then moves its checkpoint.
Fold = Callable[["AsyncConnection[Any]", Sequence["Envelope"]], Awaitable[None]]

_FIRST_DELAY = 0.2
_MAX_DELAY = 5.0


def transient(exc: BaseException) -> bool:
    """The database went away or refused for now: retry the batch, skip nothing."""
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.SerializationFailure)


async def read_checkpoint(conn: AsyncConnection[Any], name: str, version: str = "") -> int:
    """The position the named reader has reached; a new reader starts at 0, with `version`."""
    await conn.execute(
        "INSERT INTO checkpoints (name, position, version) VALUES (%s, 0, %s)"
        " ON CONFLICT DO NOTHING",
        [name, version],
    )
    cur = await conn.execute("SELECT position FROM checkpoints WHERE name = %s", [name])
    row = await cur.fetchone()
    return int(row[0]) if row else 0


@dataclass
class CatchUpReader:
    """Folds the log from its checkpoint, batch by batch, each batch exactly once.

    `fold` runs inside the batch transaction. If it fails with an error that is not transient,
    `degrade` (when given) runs instead in a fresh transaction: the projections' slow path that
    folds each event in a savepoint and records the ones that fail. Without `degrade` the error
    stops the batch and `run` retries it from the checkpoint with backoff — nothing is skipped.
    """

    name: str  # its checkpoint row
    store: EventStore
    pool: AsyncConnectionPool[Any]
    fold: Fold
    _: KW_ONLY
    degrade: Fold | None = None
    # Pipelined, statements whose results no one reads go out with the next that is read (an
    # event's upsert with the next event's lookup, the checkpoint with the commit): a batch of a
    # hundred creates folds in about half the round trips. An error then surfaces at a later
    # statement, so `degrade`, which must know which event failed, always runs unpipelined.
    pipelined: bool = False
    # What built the rows it folds into: a new checkpoint row records it (see Projection.version).
    version: str = ""
    # Runs before each start from the checkpoint: a projection rebuilds rows another version built.
    prepare: Callable[[], Awaitable[object]] | None = None
    waker: Waker | None = None
    batch_size: int = 500
    poll_seconds: float = 1.0

    async def checkpoint(self) -> int:
        async with self.pool.connection() as conn:
            return await read_checkpoint(conn, self.name, self.version)

    async def run(self) -> None:
        """Follows the log until cancelled, restarting from the checkpoint after an error."""
        delay = _FIRST_DELAY
        while True:
            raise_if_cancelling()
            try:
                async for _ in self._follow_once():
                    delay = _FIRST_DELAY  # progress: the next failure starts its backoff afresh
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reader %s failed (%s); restarting", self.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)

    async def _follow_once(self) -> AsyncGenerator[int, None]:
        """Applies batches from the stored checkpoint on, yielding each new position.

        Ends when another reader moved the checkpoint (the caller re-reads it). The follow
        iterator is closed however this ends — cancelled mid-batch included — so its wait on
        the waker ends at once instead of whenever the garbage collector finds it.
        """
        if self.prepare is not None:
            await self.prepare()
        position = await self.checkpoint()
        async with contextlib.aclosing(self.batches(position)) as batches:
            async for batch in batches:
                if not await self.apply_batch(position, batch):
                    return
                position = batch[-1].position
                yield position

    def batches(self, position: int) -> AsyncGenerator[list[Envelope], None]:
        """The log from just after `position`, in batches, following it live once caught up."""
        return follow(
            self.store,
            position,
            self.waker,
            batch_size=self.batch_size,
            poll_seconds=self.poll_seconds,
        )

    async def catch_up(self) -> int:
        """Applies everything up to the log's current end once (rebuilds and tests use this)."""
        position = await self.checkpoint()
        while batch := await self.store.read_all(position, self.batch_size):
            if not await self.apply_batch(position, batch):
                position = await self.checkpoint()
                continue
            position = batch[-1].position
        return position

    async def apply_batch(self, expected: int, batch: Sequence[Envelope]) -> bool:
        """Applies a batch atomically with the checkpoint; False if the checkpoint moved."""
        try:
            return await self._apply(self.fold, expected, batch, pipelined=self.pipelined)
        except Exception as exc:
            if self.degrade is None or transient(exc):
                raise
            return await self._apply(self.degrade, expected, batch, pipelined=False)

    async def _apply(
        self, fold: Fold, expected: int, batch: Sequence[Envelope], *, pipelined: bool
    ) -> bool:
        async with (
            self.pool.connection() as conn,
            conn.pipeline() if pipelined else contextlib.nullcontext(),
            conn.transaction(),
        ):
            cur = await conn.execute(
                "SELECT position FROM checkpoints WHERE name = %s FOR UPDATE", [self.name]
            )
            row = await cur.fetchone()
            if row is None or int(row[0]) != expected:
                return False
            await fold(conn, batch)
            await conn.execute(
                "UPDATE checkpoints SET position = %s, updated_at = now() WHERE name = %s",
                [batch[-1].position, self.name],
            )
        return True
