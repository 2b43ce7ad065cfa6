"""Fixtures for the core: an opened Core (pool, event store, blobs, waker) on a fresh database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adpipe.bus import connect, ensure_stream
from adpipe.context import Core, open_core
from adpipe.relay import Relay
from adpipe.settings import load_settings
from adpipe.tasks import cancel_and_wait


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    settings = load_settings({}, database_url=database_url, pool_max_size=12)
    async with open_core(settings) as opened:
        yield opened


@pytest.fixture
async def relay(core: Core, nats_url: str) -> AsyncIterator[None]:
    """The relay, publishing what the test appends to JetStream."""
    nc = await connect(nats_url)
    await ensure_stream(nc.jetstream())
    relay = Relay(core.store, nc.jetstream(), core.settings.database_url, waker=core.waker)
    task = asyncio.create_task(relay.run())
    yield
    await cancel_and_wait(task)
    await nc.close()
