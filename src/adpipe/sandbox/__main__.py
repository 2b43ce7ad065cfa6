"""The child's side: `python -I -m adpipe.sandbox`, started by `Sandbox` — not a command for people.

It takes its limits, then its call, from stdin; answers on a private copy of stdout (stray
prints from libraries go to stderr instead); and exits at once when its parent goes away.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import importlib
import os
import pickle
import resource
import signal
import sys
import threading
import traceback
from typing import Any

from adpipe.sandbox import frames
from adpipe.sandbox.runner import FunctionRef

# Linux prctl option: deliver this signal when the parent dies.
_PR_SET_PDEATHSIG = 1
# Exit status when the parent went away: nobody reads it, but it is distinct in a core log.
_ORPHANED = 70


def main() -> None:
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library printing to stdout must not corrupt the answer stream
    faulthandler.enable()  # a native crash leaves a Python trace in the parent's log
    requests = sys.stdin.buffer
    setup: dict[str, Any] = pickle.loads(frames.read_frame(requests))
    _die_with_parent(setup["parent_pid"])  # a spare's parent may die while it waits below
    # The parent's import path, as multiprocessing's spawn does: the call's module is found
    # where the parent found it.
    sys.path[:] = [*setup["sys_path"], *(p for p in sys.path if p not in setup["sys_path"])]
    # A spare child imports its libraries while it waits for its call (see Sandbox.keep_spare).
    for module in setup.get("preload", ()):
        importlib.import_module(module)
    call = frames.read_frame(requests)
    _watch_stdin()  # only now: it reads stdin, which carried the call
    lock = threading.Lock()

    def send(answer: tuple[Any, ...]) -> None:
        with lock:
            answers.write(frames.encode(answer))
            answers.flush()

    def report(value: Any) -> None:
        send(("progress", value))

    try:
        # The function's module and its libraries load before the limits: the limits bound the
        # work on its input, not the fixed cost every call starts with (and a library that cannot
        # map its segments would fail as an ImportError, not as the memory error it is).
        fn, args, kwargs = pickle.loads(call)
        if isinstance(fn, FunctionRef):
            fn = fn.resolve()
        _limit(setup["memory_bytes"], setup["cpu_seconds"])
        if setup["progress"]:
            args = (report, *args)
        value = fn(*args, **kwargs)
    except MemoryError as exc:
        send(("memory", str(exc) or type(exc).__name__))
    except BaseException as exc:
        traceback.print_exc()
        send(("raised", _type_name(exc), str(exc), _portable(exc)))
    else:
        try:
            send(("ok", value))
        except Exception as exc:  # the result cannot be pickled
            send(("raised", _type_name(exc), f"the result cannot be sent back: {exc}", None))
    # No interpreter shutdown: threads the work left behind (an encoder's, a decoder's) must
    # not hold the exit up, and the answer is already written.
    os._exit(0)


def _limit(memory_bytes: int | None, cpu_seconds: int | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write a core file
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cpu_seconds is not None:
        # SIGXCPU at the soft limit ends the process (nothing here handles it); the hard limit
        # one second later is the kernel's SIGKILL should anything ignore that.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def _die_with_parent(parent: int) -> None:
    """Ends this process when the parent dies, even by SIGKILL, so no work runs on unowned."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(_ORPHANED)


def _watch_stdin() -> None:
    """Ends this process when stdin closes: where prctl is missing, the parent's death."""

    def watch() -> None:
        # The parent holds stdin open until this process is gone: EOF means it died. Covers
        # systems without prctl.
        while os.read(0, 4096):
            pass
        os._exit(_ORPHANED)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def _portable(exc: BaseException) -> BaseException | None:
    """The exception if it survives a pickle round trip (its class may need other arguments)."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    return copy if isinstance(copy, BaseException) else None


if __name__ == "__main__":
    main()
