"""Fixtures for the replay tool: a Core, the read models caught up, and the CLI run in-process."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from adpipe.context import Core, open_core
from adpipe.projector import Projector
from adpipe.replay.checks import discover_projections
from adpipe.replay.cli import run
from adpipe.settings import load_settings
from replay.kit import CatchUp, Replay


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    settings = load_settings({}, database_url=database_url, pool_max_size=12)
    async with open_core(settings) as opened:
        yield opened


@pytest.fixture
def replay(database_url: str) -> Replay:
    """Runs `adpipe replay <args>` against the test database; answers (exit code, out, err)."""

    async def call(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await run([*args, "--database-url", database_url], out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    return call


@pytest.fixture
def catch_up(core: Core) -> CatchUp:
    """Brings every read model up to the end of the log, as a running projector would."""

    async def call() -> None:
        projections = discover_projections()
        projector = Projector(core.store, core.pool, projections)
        for projection in projections:
            await projector.catch_up(projection)

    return call
