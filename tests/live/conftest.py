"""Fixtures for live job events: a Core with a quick fallback poll, and an API key per user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adpipe.context import Core, open_core
from adpipe.settings import load_settings


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    settings = load_settings(
        {}, database_url=database_url, pool_max_size=12, subscription_poll_seconds=0.2
    )
    async with open_core(settings) as opened:
        yield opened
