"""The supervisor with real child processes: restarts with capped backoff, stops in bounded time.

The children are tiny Python programs standing in for roles; `adpipe up` itself is in test_up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adpipe.errors import ValidationFailed
from adpipe.runtime.leftovers import PidFiles, StateFolderBusy, StateLock, start_time
from adpipe.runtime.roles import SERVICES, role_commands
from adpipe.runtime.supervisor import Backoff, Role, Supervisor, plan_roles
from testkit.core import ROOT

# argv[1] is the "role": steady sleeps, crashy exits at once, stubborn ignores SIGTERM.
CHILD = """
import signal, sys, time
from adpipe.runtime.lifeline import die_with_supervisor
die_with_supervisor()
role = sys.argv[1]
if role == "crashy":
    sys.exit(3)
if role == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stdout.write("ready " + role + "\\n")  # one write: lines of two children never interleave
sys.stdout.flush()
time.sleep(120)
"""


def _supervisor(tmp_path: Path, *roles: Role, grace: float = 5.0) -> Supervisor:
    return Supervisor(
        roles,
        command=[sys.executable, "-c", CHILD],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        run_dir=tmp_path / "run",
        backoff=Backoff(initial=0.05, cap=0.2, reset_after=60.0),
        grace=grace,
    )


async def _until(check: object, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _ignores_sigterm(pid: int) -> bool:
    """Whether `pid` has set SIGTERM to ignored yet (the SigIgn mask in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, cap=4.0)
    assert [backoff.delay(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert Backoff(initial=1.0, cap=30.0).delay(10_000) == 30.0


def test_every_registered_service_is_a_supervised_role() -> None:
    commands = role_commands()
    assert {"api", "relay", "projector"} <= set(commands)
    for name in SERVICES:
        assert commands[name] == ("service", name)
    roles = {r.name: r for r in plan_roles(commands, {"renderer": 2}, api_fd=7)}
    assert roles["renderer"].replicas == 2 and roles["planner"].replicas == 1
    assert roles["api"].argv == ("api", "--fd", "7") and roles["api"].pass_fds == (7,)


def test_replica_counts_name_known_roles_and_keep_one_api() -> None:
    with pytest.raises(ValidationFailed, match="ADPIPE_REPLICAS_RENDERR names no role"):
        plan_roles(role_commands(), {"renderr": 2})
    with pytest.raises(ValidationFailed, match="ADPIPE_REPLICAS_API must be at least 1"):
        plan_roles(role_commands(), {"api": 0})
    roles = plan_roles(role_commands(), {"webhooks": 0})
    assert next(r for r in roles if r.name == "webhooks").replicas == 0


async def test_a_dying_role_is_restarted_with_backoff_while_the_others_keep_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "adpipe.runtime.supervisor")
    supervisor = _supervisor(
        tmp_path,
        Role(name="steady", argv=("steady",), replicas=2),
        Role(name="crashy", argv=("crashy",)),
    )
    stop, hurry = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop, hurry))
    await _until(lambda: supervisor.restarts.get("crashy", 0) >= 4)
    steady = {k: v for k, v in supervisor.pids().items() if k.startswith("steady")}
    assert set(steady) == {"steady.1", "steady.2"}
    # Each child leads its own process group, out of reach of a terminal's Ctrl-C.
    assert all(os.getpgid(pid) == pid for pid in steady.values())
    assert set(PidFiles(tmp_path / "run").running()) >= {"steady.1", "steady.2"}
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(running, 30)

    assert {k: v for k, v in supervisor.pids().items()} == {}
    assert all(start_time(pid) is None for pid in steady.values())
    assert PidFiles(tmp_path / "run").running() == {}
    pattern = re.compile(r"crashy exited with code 3 after .* restarting in ([\d.]+) s")
    delays = [float(m.group(1)) for r in caplog.records if (m := pattern.search(r.message))]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.2], delays
    assert not any("steady" in r.message and "restarting" in r.message for r in caplog.records)


async def test_a_role_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    supervisor = _supervisor(
        tmp_path, Role(name="stubborn", argv=("stubborn",)), Role(name="steady", argv=("steady",))
    )
    stop, hurry = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop, hurry))
    await _until(lambda: len(supervisor.pids()) == 2)
    await _until(lambda: _ignores_sigterm(supervisor.pids()["stubborn"]))
    stopped = time.monotonic()
    stop.set()
    await asyncio.wait_for(running, 30)
    took = time.monotonic() - stopped
    assert 4.0 <= took < 20, f"stopped after {took:.1f} s, the grace is 5 s"
    assert supervisor.processes["stubborn"].returncode == -signal.SIGKILL
    assert supervisor.processes["steady"].returncode == -signal.SIGTERM


async def test_a_second_stop_request_kills_at_once(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path, Role(name="stubborn", argv=("stubborn",)), grace=60.0)
    stop, hurry = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop, hurry))
    await _until(lambda: len(supervisor.pids()) == 1)
    await _until(lambda: _ignores_sigterm(supervisor.pids()["stubborn"]))
    stop.set()
    await asyncio.sleep(0.5)
    assert not running.done()
    hurry.set()
    await asyncio.wait_for(running, 10)
    assert supervisor.processes["stubborn"].returncode == -signal.SIGKILL


@pytest.mark.slow
def test_children_die_with_a_sigkilled_supervisor(tmp_path: Path) -> None:
    program = tmp_path / "supervise.py"
    program.write_text(
        "import asyncio, os, sys\n"
        "from adpipe.runtime.supervisor import Backoff, Role, Supervisor\n"
        "async def main():\n"
        f"    s = Supervisor([Role(name='steady', argv=('steady',), replicas=2)],\n"
        f"        command=[sys.executable, '-c', {CHILD!r}], env=dict(os.environ),\n"
        f"        run_dir=__import__('pathlib').Path({str(tmp_path / 'run')!r}))\n"
        "    await s.run(asyncio.Event(), asyncio.Event())\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen([sys.executable, str(program)], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        for _ in range(2):
            assert parent.stdout.readline().startswith(b"ready")
        children = PidFiles(tmp_path / "run").running()
        assert len(children) == 2
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while any(start_time(pid) for pid in children.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(start_time(pid) for pid in children.values()), "children outlived it"


def test_a_sweep_stops_leftovers_and_spares_a_process_that_reused_a_pid(tmp_path: Path) -> None:
    files = PidFiles(tmp_path / "run")
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    innocent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        files.record("renderer.1", leftover.pid)
        # A pid file whose pid now belongs to another process: same pid, other start time.
        files.folder.joinpath("planner.pid").write_text(f"{innocent.pid} 1\n")
        assert files.sweep(grace=5.0) == [leftover.pid]
        assert leftover.wait(10) == -signal.SIGTERM
        assert innocent.poll() is None
        assert list(files.folder.glob("*.pid")) == []
    finally:
        for proc in (leftover, innocent):
            proc.kill()
            proc.wait()


def test_one_supervisor_per_state_folder(tmp_path: Path) -> None:
    with StateLock(tmp_path / "run"):
        with (
            pytest.raises(StateFolderBusy, match=rf"pid {os.getpid()}"),
            StateLock(tmp_path / "run"),
        ):
            pass
    with StateLock(tmp_path / "run"):
        pass  # released by the first one's exit
