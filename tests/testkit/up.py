"""Driving `adpipe up` as a user would: start it on a state folder, wait for it, find its processes.

`processes_of(home)` is how tests prove nothing is left: every process whose command line or
environment names the state folder (the supervisor, its roles, Postgres and its backends,
nats-server, an initdb in progress) — everything a stack started carries $ADPIPE_HOME.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import aiohttp

from adpipe.runtime.leftovers import PidFiles
from testkit.core import eventually, spawn


def processes_of(home: Path) -> dict[int, str]:
    """pid -> command line of each live process that names `home` (zombies do not count)."""
    needle = str(home).encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if state != "Z" and (needle in cmdline or needle in environ):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def wait_gone(home: Path, within: float = 10.0) -> dict[int, str]:
    """Poll until no process names `home`; return what is still there after `within` seconds."""
    deadline = time.monotonic() + within
    while (left := processes_of(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def role_pids(home: Path) -> dict[str, int]:
    """Label (`api`, `renderer.2`) -> pid of each role process the supervisor has running."""
    return PidFiles(home / "run").running()


def start_up(home: Path, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return spawn(
        ["-m", "adpipe", "up", "--port", str(port)], {"ADPIPE_HOME": str(home), **env}, log
    )


async def status(url: str, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def wait_announced(log: Path, within: float = 120.0) -> None:
    async def announced() -> bool:
        return "adpipe is up at" in log.read_text(errors="replace")

    await eventually(announced, within=within)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, within: float = 60) -> int:
    proc.send_signal(sig)
    return proc.wait(within)
