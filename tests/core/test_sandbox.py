"""The sandbox: a function runs in a bounded child; every way the child can end has its own error,
and no process outlives its sandbox call."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from adpipe.errors import ValidationFailed
from adpipe.sandbox import (
    ChildCrashed,
    ChildLimits,
    ChildOutOfMemory,
    ChildOutOfTime,
    ChildRaised,
    Sandbox,
)
from testkit import sandbox_targets as targets
from testkit.core import ROOT, eventually, spawn

MB = 2**20


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def pids_from(path: Path) -> list[int]:
    async def written() -> bool:
        return path.exists() and path.read_text() != ""

    await eventually(written, within=30)
    return [int(p) for p in path.read_text().split()]


async def test_a_result_comes_back_from_a_child_process() -> None:
    sandbox = Sandbox(ChildLimits())
    assert await sandbox.run(targets.add, 2, 3) == 5
    child = await sandbox.run(targets.whoami)
    assert child["pid"] != os.getpid()
    assert child["ppid"] == os.getpid()
    assert child["pgid"] == child["pid"], "the child leads its own process group"


async def test_limits_are_set_in_the_child_and_core_files_are_off() -> None:
    limits = ChildLimits(memory_bytes=900 * MB, cpu_seconds=7)
    child = await Sandbox(limits).run(targets.whoami)
    assert child["as"] == (900 * MB, 900 * MB)
    assert child["cpu"] == (7, 8)
    assert child["core"] == (0, 0)


async def test_the_child_gets_no_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://adpipe:secret@db/adpipe")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = await Sandbox(ChildLimits()).run(targets.environment)
    assert "DATABASE_URL" not in env and "OPENAI_API_KEY" not in env
    assert env["LC_ALL"] == "C.UTF-8" and env["MALLOC_ARENA_MAX"] == "2"
    assert "PATH" in env


async def test_what_a_library_prints_does_not_corrupt_the_answer() -> None:
    assert await Sandbox(ChildLimits()).run(targets.print_to_stdout_then_add, 4, 5) == 9


async def test_an_exception_comes_back_typed_with_the_original() -> None:
    with pytest.raises(ChildRaised) as caught:
        await Sandbox(ChildLimits(), name="the check").run(targets.refuse, "not a video")
    error = caught.value
    assert error.type_name == "adpipe.errors.ValidationFailed"
    assert isinstance(error.original, ValidationFailed)
    assert error.original.errors == [{"field": "file", "message": "not a video"}]
    assert error.detail == "the check failed: adpipe.errors.ValidationFailed: not a video"


async def test_an_allocation_past_the_memory_limit_is_out_of_memory() -> None:
    sandbox = Sandbox(ChildLimits(memory_bytes=400 * MB), name="the decode")
    assert await sandbox.run(targets.allocate, 50) == 50 * MB
    with pytest.raises(ChildOutOfMemory) as caught:
        await sandbox.run(targets.allocate, 600)
    assert "the decode needed more memory than its limit of 400 MiB" in caught.value.detail


async def test_spent_cpu_seconds_end_the_child_as_out_of_time() -> None:
    started = time.monotonic()
    with pytest.raises(ChildOutOfTime) as caught:
        await Sandbox(ChildLimits(cpu_seconds=1, wall_seconds=60)).run(targets.burn_cpu)
    assert caught.value.clock == "cpu"
    assert time.monotonic() - started < 30


async def test_a_child_past_its_wall_deadline_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(ChildOutOfTime) as caught:
        await Sandbox(ChildLimits(wall_seconds=1.5)).run(targets.sleep_forever, str(pid_file))
    assert caught.value.clock == "wall"
    assert "ran out of its time of 1.5 s" in caught.value.detail
    (pid,) = await pids_from(pid_file)
    assert not running(pid)


async def test_a_native_crash_is_reported_with_its_signal() -> None:
    with pytest.raises(ChildCrashed) as caught:
        await Sandbox(ChildLimits(), name="the probe").run(targets.segfault)
    assert caught.value.signal == signal.SIGSEGV
    assert caught.value.detail == "the probe was killed by SIGSEGV"


async def test_an_exit_without_an_answer_is_a_crash() -> None:
    with pytest.raises(ChildCrashed) as caught:
        await Sandbox(ChildLimits()).run(targets.exit_silently)
    assert caught.value.exit_code == 3 and caught.value.signal is None


async def test_a_function_from_main_is_refused_in_the_caller() -> None:
    def local() -> None:
        return None

    local.__module__ = "__main__"
    with pytest.raises(TypeError, match="importable module"):
        await Sandbox(ChildLimits()).run(local)


async def test_a_result_that_cannot_be_sent_back_is_an_error_not_a_hang() -> None:
    with pytest.raises(ChildRaised, match="cannot be sent back"):
        await Sandbox(ChildLimits()).run(targets.unpicklable_result)


async def test_progress_reaches_the_caller_in_order() -> None:
    seen: list[int] = []
    result = await Sandbox(ChildLimits()).run_reporting(seen.append, targets.count, 50)
    assert result == 50
    assert seen == list(range(1, 51))


async def test_cancelling_the_caller_kills_the_child_and_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    call = asyncio.create_task(
        Sandbox(ChildLimits()).run(targets.start_grandchild_and_sleep, str(pid_file))
    )
    child, grandchild = await pids_from(pid_file)
    assert running(child) and running(grandchild)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not running(child)

    async def grandchild_gone() -> bool:
        return not running(grandchild)

    await eventually(grandchild_gone, within=10)


async def test_concurrency_bounds_how_many_children_run_at_once(tmp_path: Path) -> None:
    sandbox = Sandbox(ChildLimits(wall_seconds=30), concurrency=1)
    first_pid, second_pid = tmp_path / "first", tmp_path / "second"
    first = asyncio.create_task(sandbox.run(targets.sleep_forever, str(first_pid)))
    second = asyncio.create_task(sandbox.run(targets.sleep_forever, str(second_pid)))
    (pid,) = await pids_from(first_pid)
    await asyncio.sleep(1.0)
    assert not second_pid.exists(), "a second child started while the only slot was taken"
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert not running(pid)
    await pids_from(second_pid)
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)


@pytest.mark.slow
async def test_a_child_does_not_outlive_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        "import asyncio, sys\n"
        "from adpipe.sandbox import ChildLimits, Sandbox\n"
        "from testkit import sandbox_targets as t\n"
        "asyncio.run(Sandbox(ChildLimits()).run(t.sleep_forever, sys.argv[1]))\n"
    )
    parent = spawn(
        ["-c", script, str(pid_file)],
        {"PYTHONPATH": str(ROOT / "tests")},
        tmp_path / "parent.log",
    )
    try:
        (child,) = await pids_from(pid_file)
        assert running(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)

        async def child_gone() -> bool:
            return not running(child)

        await eventually(child_gone, within=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def sandbox_children() -> list[int]:
    """Live sandbox children of this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and running(int(entry.name)):
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == os.getpid() and b"adpipe.sandbox" in command:
                found.append(int(entry.name))
    return found


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


async def test_a_spare_child_waits_with_its_modules_loaded_and_serves_one_call_only() -> None:
    sandbox = Sandbox(ChildLimits(), preload=("wave",), keep_spare=True)
    try:
        first = await sandbox.run(targets.started_with, "wave")
        assert first["loaded"]  # preloaded before the call
        await asyncio.sleep(1.0)
        asked = uptime()
        second = await sandbox.run(targets.started_with, "wave")
        # The spare was started after the first call, before the second was asked for.
        assert second["started"] < asked and second["pid"] != first["pid"]
        assert not running(first["pid"])

        async def spare_waits() -> bool:
            return bool(sandbox_children())

        await eventually(spare_waits, within=10)  # started for the next call
    finally:
        await sandbox.close()
    assert sandbox_children() == []
    # Closed: no spare is left behind, and the sandbox still runs calls (in fresh children).
    assert await sandbox.run(targets.add, 1, 2) == 3
    await sandbox.close()
