"""`adpipe up` from nothing: one process per role, killed roles come back, data survives a SIGKILL.

The state folder is a `mkdtemp` folder (0700): as root, Postgres runs as another account and
must still find its cluster there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adpipe.runtime.leftovers import StateLock, start_time
from adpipe.runtime.ports import free_port
from adpipe.runtime.roles import role_commands
from testkit.core import eventually
from testkit.seed import job_body
from testkit.up import processes_of, role_pids, start_up, status, stop, wait_announced, wait_gone

REPLICAS = {"renderer": 2}


@pytest.fixture
def home() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="adpipe-up-"))
    yield folder
    left = wait_gone(folder, within=5)
    for pid in left:  # a failed test must not leave a stack running
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


class User:
    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {key}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, f"{self.base}/api/v3{path}", json=body, headers=self.headers
        ) as response:
            return response.status, await response.json(content_type=None)


async def _make_a_video(user: User, client_id: str) -> None:
    code, job = await user.call("POST", "/jobs", job_body(client_id))
    assert code in (201, 202), job
    await _until_status(user, job["id"], "storyboard_review")
    approve = {"action": "approve_storyboard"}
    code, body = await user.call("POST", f"/jobs/{job['id']}/actions", approve)
    assert code == 200, body
    await _until_status(user, job["id"], "completed")


async def _until_status(user: User, job_id: str, wanted: str, within: float = 180) -> None:
    job: Any = None

    async def reached() -> bool:
        nonlocal job
        _, job = await user.call("GET", f"/jobs/{job_id}")
        assert job["status"] != "failed", job
        return bool(job["status"] == wanted)

    try:
        await eventually(reached, within=within)
    except AssertionError as error:
        raise AssertionError(f"job never became {wanted}: {job}") from error


def _roles_running(home: Path) -> Counter[str]:
    return Counter(label.split(".")[0] for label in role_pids(home))


async def _replaced(home: Path, killed: dict[str, int], within: float = 60) -> dict[str, int]:
    async def back() -> bool:
        now = role_pids(home)
        return all(now.get(label, pid) != pid for label, pid in killed.items())

    await eventually(back, within=within)
    return {label: role_pids(home)[label] for label in killed}


@pytest.mark.slow
async def test_up_runs_a_process_per_role_survives_kill_9_and_keeps_data(home: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = home / "up.log"
    proc = start_up(home, port, log, ADPIPE_REPLICAS_RENDERER="2")
    try:
        await wait_announced(log)
        text = log.read_text()
        key = (home / "dev-api-key").read_text().strip()
        assert f"API key (user dev): {key}" in text
        database_url = re.search(r"DATABASE_URL=(\S+)", text)
        assert database_url is not None
        # The studio is served at / under a strict CSP, and its URL is printed.
        assert f"studio: {base}/ " in text
        async with aiohttp.ClientSession() as session, session.get(f"{base}/") as page:
            assert page.status == 200 and page.content_type == "text/html"
            assert "Content-Security-Policy" in page.headers
        # The log's chain key lives in the state folder; tools beside `up` find the stack.
        assert len((home / "chain.key").read_text().strip()) >= 32
        assert (home / "chain.key").stat().st_mode & 0o077 == 0
        stack = json.loads((home / "stack.json").read_text())
        assert stack["databaseUrl"] == database_url.group(1)

        # ps: one process per role replica, each named by its role and pointed at the stack.
        expected = Counter({name: REPLICAS.get(name, 1) for name in role_commands()})
        assert _roles_running(home) == expected
        pids = role_pids(home)
        commands = processes_of(home)
        for label, pid in pids.items():
            argv = " ".join(role_commands()[label.split(".")[0]])
            assert f"-m adpipe {argv}" in commands[pid], commands[pid]
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"DATABASE_URL={database_url.group(1)}".encode() in environ

        # kill -9 of a renderer, the planner and the api: each comes back; the API answers.
        killed = {label: pids[label] for label in ("renderer.1", "planner", "api")}
        for pid in killed.values():
            os.kill(pid, signal.SIGKILL)
        started = time.monotonic()

        async def answers() -> bool:
            return await status(f"{base}/healthz") == 200

        await eventually(answers, within=60)
        print(f"the API answered again {time.monotonic() - started:.1f} s after its kill -9")
        await _replaced(home, killed)
        assert "renderer.1 killed by SIGKILL" in log.read_text()

        async with aiohttp.ClientSession() as session:
            user = User(session, base, key)
            code, client = await user.call("POST", "/clients", {"name": "Kept"})
            assert code == 201, client
            await _make_a_video(user, client["id"])

        # SIGKILL of `adpipe up` itself: its roles die with it; Postgres and NATS wait to be
        # adopted by the next start on this folder.
        children = role_pids(home)
        proc.kill()
        proc.wait(30)

        async def roles_gone() -> bool:
            return not any(start_time(pid) for pid in children.values())

        await eventually(roles_gone, within=15)
    finally:
        if proc.poll() is None:
            stop(proc)

    log = home / "up-again.log"
    proc = start_up(home, port, log)
    try:
        await wait_announced(log)
        async with aiohttp.ClientSession() as session:
            code, clients = await User(session, base, key).call("GET", "/clients")
        assert code == 200 and [c["name"] for c in clients["items"]] == ["Kept"]
        assert _roles_running(home)["renderer"] == 1
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()[-3000:]
    assert wait_gone(home) == {}, "processes left after a clean stop"


def _up_once(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adpipe", "up", "--port", str(free_port())],
        env={**os.environ, "ADPIPE_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_refuses_a_replica_count_for_no_role_before_starting_anything(home: Path) -> None:
    done = _up_once(home, ADPIPE_REPLICAS_RENDERR="2")
    assert done.returncode == 2
    assert "ADPIPE_REPLICAS_RENDERR names no role; the roles are: relay, projector" in done.stderr
    assert not (home / "postgres").exists() and not (home / "nats").exists()


def test_up_refuses_a_state_folder_another_up_runs_on(home: Path) -> None:
    with StateLock(home / "run"):
        done = _up_once(home)
    assert done.returncode == 2
    assert f"another adpipe up (pid {os.getpid()}) is running on {home}" in done.stderr
    assert not (home / "postgres").exists()
