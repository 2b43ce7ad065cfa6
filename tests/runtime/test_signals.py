"""StopSignals: a stop signal is kept from install() on, through startup and into the event loop.

Each case runs a small program in its own process, so the signals never reach pytest itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit.core import ROOT

# Installs StopSignals, announces a "startup" phase, then runs an event loop that counts stops.
PROGRAM = """
import asyncio, sys, time
from adpipe.runtime.signals import StopSignals

signals = StopSignals().install()
print("starting", flush=True)
time.sleep(float(sys.argv[1]))          # blocking startup work, like initdb
print("requested during startup:", signals.requested, flush=True)

async def main():
    stop = asyncio.Event()
    heard = []
    def on_stop(number):
        heard.append(number)
        stop.set()
    with signals.attach(asyncio.get_running_loop(), on_stop):
        print("loop running", flush=True)
        await asyncio.wait_for(stop.wait(), 20)
        await asyncio.sleep(0.3)            # a duplicate would arrive by now
    print("heard", heard, flush=True)

asyncio.run(main())
"""


def _start(startup_seconds: float, *, ignore_sigint: bool = False) -> subprocess.Popen[str]:
    def ignore() -> None:
        # What a script's `cmd &` does to its background jobs: SIGINT and SIGQUIT ignored.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(startup_seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=ignore if ignore_sigint else None,
    )


def _read_until(proc: subprocess.Popen[str], marker: str) -> list[str]:
    assert proc.stdout is not None
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, f"program ended before {marker!r}: {lines}"
        lines.append(line.strip())
        if line.startswith(marker):
            return lines


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("inherited_ignore", [False, True], ids=["default", "sigint-ignored"])
def test_a_signal_during_startup_reaches_the_loop_exactly_once(
    sig: signal.Signals, inherited_ignore: bool
) -> None:
    proc = _start(1.0, ignore_sigint=inherited_ignore)
    try:
        _read_until(proc, "starting")
        proc.send_signal(sig)
        lines = _read_until(proc, "heard")
    finally:
        proc.kill()
        proc.wait()
    assert "requested during startup: True" in lines
    assert lines[-1] == f"heard [{int(sig)}]", lines


def test_a_signal_while_the_loop_waits_is_heard_at_once() -> None:
    proc = _start(0.0)
    try:
        _read_until(proc, "loop running")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        lines = _read_until(proc, "heard")
        waited = time.monotonic() - sent
    finally:
        proc.kill()
        proc.wait()
    assert lines[-1] == f"heard [{int(signal.SIGTERM)}]"
    assert waited < 10, f"took {waited:.1f} s"


def test_release_hands_a_signal_received_meanwhile_to_the_previous_handler(
    tmp_path: Path,
) -> None:
    script = tmp_path / "release.py"
    script.write_text(
        "import os, signal, time\n"
        "from adpipe.runtime.signals import StopSignals\n"
        "s = StopSignals().install()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(0.2)\n"
        "print('still alive', flush=True)\n"
        "s.release()\n"
        "time.sleep(5)\n"
        "print('not reached', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=30
    )
    assert done.stdout == "still alive\n"
    assert done.returncode == -signal.SIGTERM
