"""What one `adpipe up` owns in its state folder's `run/`: a lock, and a pid file per role process.

The lock (flock, released by the kernel however the holder dies) keeps two supervisors off one
state folder. Each pid file holds the child's pid and kernel start time, so a later `adpipe up` can
stop a child a killed run left behind without ever signalling an unrelated process that reused the
pid. Postgres and nats-server keep their own pid files and are adopted, not swept.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import time
from pathlib import Path
from types import TracebackType

from adpipe.errors import AdpipeError

log = logging.getLogger(__name__)


class StateFolderBusy(AdpipeError, RuntimeError):
    """Another `adpipe up` runs on this state folder."""


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is not running.

    A pid is reused after its process ends; pid plus start time names one process for good.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, waiting for its parent to reap it
        return None
    return fields[19]


class StateLock:
    """Held while an `adpipe up` runs on the state folder; StateFolderBusy when already taken."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "up.lock"
        self._fd: int | None = None

    def __enter__(self) -> StateLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StateFolderBusy(
                f"another adpipe up (pid {holder}) is running on {self.path.parent.parent}; "
                "stop it first or use another ADPIPE_HOME"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None


class PidFiles:
    """`run/children/<label>.pid` for each role process a supervisor has running."""

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / "children"

    def record(self, label: str, pid: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        started = start_time(pid)
        if started is not None:
            (self.folder / f"{label}.pid").write_text(f"{pid} {started}\n")

    def forget(self, label: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{label}.pid").unlink()

    def running(self) -> dict[str, int]:
        """Label -> pid of each recorded process that still runs (same pid, same start time)."""
        alive: dict[str, int] = {}
        for path in sorted(self.folder.glob("*.pid")):
            try:
                pid_text, started = path.read_text().split()
                pid = int(pid_text)
            except (OSError, ValueError):
                continue
            if start_time(pid) == started:
                alive[path.stem] = pid
        return alive

    def sweep(self, grace: float = 5.0) -> list[int]:
        """Stop every recorded process still running (SIGTERM, `grace`, SIGKILL); clear the files.

        Call it only while holding the StateLock: then no live supervisor owns these processes.
        """
        leftovers = self.running()
        for label, pid in leftovers.items():
            log.warning("stopping %s (pid %d), left running by an earlier adpipe up", label, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        started = {pid: start_time(pid) for pid in leftovers.values()}
        deadline = time.monotonic() + grace
        pending = list(leftovers.values())
        while pending and time.monotonic() < deadline:
            time.sleep(0.05)
            pending = [pid for pid in pending if start_time(pid) == started[pid]]
        for pid in pending:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for path in self.folder.glob("*.pid"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return list(leftovers.values())
