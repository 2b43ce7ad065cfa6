"""Fixtures for read-model tests: an opened Core on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adpipe.context import Core, open_core
from adpipe.settings import load_settings


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    async with open_core(load_settings({}, database_url=database_url)) as opened:
        yield opened
