"""Tools run beside `adpipe up` (same ADPIPE_HOME) find its database without DATABASE_URL."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adpipe.api.keys import list_keys
from adpipe.replay.cli import run
from adpipe.settings import RunningStack, load_settings, write_running_stack


@pytest.fixture
def home(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder as `adpipe up` leaves it while running, and no DATABASE_URL anywhere."""
    write_running_stack(
        tmp_path, RunningStack(database_url=database_url, nats_url="", pid=os.getpid())
    )
    monkeypatch.setenv("ADPIPE_HOME", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def test_settings_fall_back_to_the_running_stack(home: Path, database_url: str) -> None:
    assert load_settings().database_url == database_url
    assert load_settings({"ADPIPE_HOME": str(home), "DATABASE_URL": "x"}).database_url == "x"
    assert (home / "stack.json").stat().st_mode & 0o077 == 0  # only its owner reads it


async def test_replay_and_keys_work_beside_up_without_database_url(
    home: Path, database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    created = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "adpipe.cli", "keys", "create", "--user", "carol"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("adp_")
    assert [k.user_id for k in await list_keys(database_url)] == ["carol"]

    out, err = io.StringIO(), io.StringIO()
    assert await run(["verify", "--log-only"], out=out, err=err) == 0, err.getvalue()
