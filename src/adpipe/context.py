"""The shared handles one process needs: settings, the pool, the event store, blobs, the waker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from .settings import Settings
from .storage.blobs import PostgresBlobStore
from .storage.eventstore import EventStore
from .storage.subscription import Waker


@dataclass
class Core:
    settings: Settings
    pool: AsyncConnectionPool[Any]
    store: EventStore
    blobs: PostgresBlobStore
    waker: Waker


@contextlib.asynccontextmanager
async def open_core(settings: Settings) -> AsyncIterator[Core]:
    """Opens the pool and makes the LISTEN waker; closes both on exit."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        max_idle=settings.pool_max_idle_seconds,
        open=False,
        timeout=settings.pool_timeout_seconds,
    )
    await pool.open(wait=True, timeout=30)
    # Listens from its first wait on: a role that never follows the log opens no LISTEN.
    waker = Waker(settings.database_url)
    try:
        yield Core(
            settings=settings,
            pool=pool,
            store=EventStore(
                pool,
                lock_timeout_ms=settings.append_lock_timeout_ms,
                chain_key=settings.chain_key.encode() if settings.chain_key else None,
            ),
            blobs=PostgresBlobStore(pool),
            waker=waker,
        )
    finally:
        await waker.stop()
        await pool.close()
