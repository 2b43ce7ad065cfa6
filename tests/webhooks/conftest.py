"""Fixtures for webhooks: a Core allowing loopback URLs, a verifying receiver, the service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adpipe.context import Core, open_core
from adpipe.projections.webhooks import WebhooksProjection
from adpipe.projector import PROJECTIONS_CHANNEL, Projector
from adpipe.services.webhooks.service import run_webhooks
from adpipe.settings import load_settings
from adpipe.storage.subscription import Waker
from adpipe.webhooks.manage import Webhooks
from webhooks.kit import StartService, fast_config
from webhooks.receiver import Receiver


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Tests override this to change settings (e.g. the per-user request rate)."""
    return {}


@pytest.fixture
async def core(database_url: str, settings_overrides: dict[str, Any]) -> AsyncIterator[Core]:
    settings = load_settings(
        {},
        database_url=database_url,
        pool_max_size=12,
        allow_private_urls=True,
        subscription_poll_seconds=0.2,
        **settings_overrides,
    )
    async with open_core(settings) as opened:
        yield opened


@pytest.fixture
async def read_model(core: Core) -> AsyncIterator[None]:
    """The projector, running the webhooks read model the list endpoint reads."""
    projector = Projector(core.store, core.pool, [WebhooksProjection()], waker=core.waker)
    task = asyncio.create_task(projector.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
async def webhooks(core: Core, read_model: None) -> AsyncIterator[Webhooks]:
    waker = Waker(core.settings.database_url, PROJECTIONS_CHANNEL)
    await waker.start()
    yield Webhooks(core, config=fast_config(), projections_waker=waker)
    await waker.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def start_service(core: Core) -> AsyncIterator[StartService]:
    """Starts the webhooks role (dispatcher + sender) with a fast config; stopped afterwards."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(**overrides: object) -> None:
        tasks.append(asyncio.create_task(run_webhooks(core, stop, fast_config(**overrides))))

    yield start
    stop.set()
    async with asyncio.timeout(10):
        for task in tasks:
            await task
