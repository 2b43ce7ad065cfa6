"""Fixtures for the core: an opened Core (pool, event store, blobs, waker) on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adpipe.context import Core, open_core
from adpipe.settings import load_settings


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    settings = load_settings({}, database_url=database_url, pool_max_size=12)
    async with open_core(settings) as opened:
        yield opened
