"""Functions the sandbox tests run in child processes: each ends in one of the ways a child can.

They live in an importable module (not a test file) because the child imports them by name.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adpipe.errors import ValidationFailed


def add(a: int, b: int) -> int:
    return a + b


def whoami() -> dict[str, Any]:
    """The child's pid, its parent, and its limits, for the test to inspect."""
    import resource

    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "as": resource.getrlimit(resource.RLIMIT_AS),
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
    }


def refuse(detail: str) -> None:
    raise ValidationFailed(detail, [{"field": "file", "message": detail}])


def allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 2**20)
    return len(block)


def burn_cpu() -> None:
    while True:
        pass


def sleep_forever(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(3600)


def start_grandchild_and_sleep(pid_file: str) -> None:
    """Starts a process of its own (as FFmpeg helpers might) and hangs."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    Path(pid_file).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(3600)


def segfault() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a native decoder crashing would


def exit_silently() -> None:
    os._exit(3)


def print_to_stdout_then_add(a: int, b: int) -> int:
    print("noise a library might print")
    os.write(1, b"raw noise on fd 1\n")
    return a + b


def count(report: Callable[[Any], None], upto: int) -> int:
    for i in range(1, upto + 1):
        report(i)
    return upto


def unpicklable_result() -> Any:
    return lambda: None


def segfault_decoding(path: str, *args: Any) -> None:
    """Stands in for a decoder that crashes on the file at `path`."""
    segfault()


def environment() -> dict[str, str]:
    return dict(os.environ)


def started_with(module: str) -> dict[str, Any]:
    """Whether `module` was imported in this child, and when the child started (seconds since
    boot), for the spare-child test."""
    import sys

    ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
    return {
        "pid": os.getpid(),
        "loaded": module in sys.modules,
        "started": ticks / os.sysconf("SC_CLK_TCK"),
    }
