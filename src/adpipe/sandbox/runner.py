"""The parent's side: start `python -m adpipe.sandbox`, send it a call, await its answer.

Why a fresh interpreter through asyncio's subprocess support, rather than multiprocessing:
- Nothing is forked from the caller. The API and the services are threaded (psycopg's pool,
  `asyncio.to_thread`, nats-py), and forking a threaded process is unsafe; `spawn` would avoid
  that but multiprocessing's pipes and sentinels block, so every wait would need a thread or
  hand-made reader callbacks. `asyncio.create_subprocess_exec` is non-blocking end to end: the
  answer is a stream read, the deadline an `asyncio.timeout`, cancellation a kill.
- The child starts in its own session (process group), so a kill takes anything it started
  with it, and `ps` names it (`python -I -m adpipe.sandbox`).
- It costs an interpreter start per call (bench/media.py on the 2-core target: ~50 ms bare,
  ~170 ms more than in-process for a probe that loads PyAV and Pillow): small beside decoding a
  video or rendering one, and no state — a leaked buffer, a half-initialised codec — ever
  carries from one user's file to the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from asyncio.subprocess import PIPE, Process
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar, cast

import msgspec

from . import frames
from .errors import ChildCrashed, ChildOutOfMemory, ChildOutOfTime, ChildRaised, SandboxError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
# What a reporting function gets as its first argument: call it with any picklable value.
Reporter: TypeAlias = Callable[[Any], None]
# The tail of the child's stderr kept for the log when it fails (a faulthandler trace fits).
STDERR_TAIL_BYTES = 8192


class ChildLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What one child may use; None means unbounded."""

    # Address space (RLIMIT_AS), set once the interpreter and the function's module are loaded
    # (about 230 MB with PyAV, Pillow and numpy): allocations past it fail with MemoryError.
    memory_bytes: int | None = None
    # CPU seconds (RLIMIT_CPU): SIGXCPU when spent, SIGKILL one second later.
    cpu_seconds: int | None = None
    # Wall-clock deadline: the parent kills the child past it (a child blocked on I/O or
    # sleeping uses no CPU, so the CPU limit alone would never end it).
    wall_seconds: float | None = None


class FunctionRef:
    """A module-level function named by its import path, imported only where it is called.

    For work whose libraries the caller should never load itself: the API hands decoding to a
    child by name and so never imports PyAV or Pillow.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def resolve(self) -> Callable[..., Any]:
        """The function itself, its module imported."""
        function: Callable[..., Any] = getattr(importlib.import_module(self.module), self.name)
        return function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionRef({self.module}.{self.name})"


class Sandbox:
    """Runs module-level functions in bounded child processes, at most `concurrency` at once.

    `name` says what the work is in error messages ("the media probe was killed by SIGSEGV").
    Arguments and results travel by pickle: keep them small (paths, not bytes of a video).
    """

    def __init__(
        self,
        limits: ChildLimits,
        *,
        name: str = "sandboxed work",
        concurrency: int = 0,
        preload: tuple[str, ...] = (),
        keep_spare: bool = False,
    ) -> None:
        self.limits = limits
        self.name = name
        self._slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None
        # Modules a child imports before it reads its call, and whether one such child is kept
        # started and waiting: the interpreter start and the imports (PyAV, Pillow, numpy: ~0.4 s
        # on the 2-core target) are then paid between calls, not at the start of the next one.
        # Each child still does one call only: nothing carries from one call to the next.
        self.preload = preload
        self.keep_spare = keep_spare
        self._spares: dict[bool, asyncio.Task[Process]] = {}

    async def close(self) -> None:
        """Kills the waiting spare children (calls under way are their callers' to stop)."""
        spares, self._spares = list(self._spares.values()), {}
        for task in spares:
            task.cancel()
            with contextlib.suppress(BaseException):
                await _kill(await task)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in a child; its result, or a SandboxError saying how it ended."""
        return cast("T", await self._call(None, fn, args, kwargs))

    async def run_reporting(
        self,
        on_progress: Reporter,
        fn: Callable[Concatenate[Reporter, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Like `run`, with `fn(report, *args, **kwargs)`: each `report(value)` in the child
        calls `on_progress(value)` here, on the event loop."""
        return cast("T", await self._call(on_progress, fn, args, kwargs))

    async def _call(
        self,
        on_progress: Reporter | None,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if getattr(fn, "__module__", None) == "__main__":
            # Pickled by reference, it would name the child's __main__ (this sandbox's entry).
            raise TypeError(
                f"{getattr(fn, '__qualname__', fn)!r} is defined in __main__; a sandboxed"
                " function must live in an importable module"
            )
        # Pickled here, so an unpicklable argument fails in the caller with a plain error.
        call = frames.encode((fn, args, kwargs))
        progress = on_progress is not None
        async with self._slots or contextlib.nullcontext():
            proc = await self._take_spare(progress) or await self._spawn(progress)
            try:
                return await self._wait(proc, call, on_progress)
            finally:
                if self.keep_spare and progress not in self._spares:
                    self._spares[progress] = asyncio.create_task(self._spawn(progress))

    async def _take_spare(self, progress: bool) -> Process | None:
        """The waiting child started for calls like this one, if it is still alive."""
        task = self._spares.pop(progress, None)
        if task is None:
            return None
        try:
            proc = await task  # still starting: it has a head start on a new one
        except Exception as exc:
            log.warning("%s: a spare child could not start (%s)", self.name, exc)
            return None
        if proc.returncode is not None:
            await _kill(proc)
            return None
        return proc

    async def _spawn(self, progress: bool) -> Process:
        """A child with its limits and preloads sent; it imports them, then waits for a call."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",  # no user site, no PYTHON* variables, no current folder on the path
            "-m",
            "adpipe.sandbox",
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            start_new_session=True,
            env=_child_environment(),
        )
        assert proc.stdin is not None
        setup = {
            "sys_path": list(sys.path),
            "parent_pid": os.getpid(),
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": self.limits.cpu_seconds,
            "progress": progress,
            "preload": list(self.preload),
        }
        try:
            proc.stdin.write(frames.encode(setup))
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died at once: the exit status says how, when the call is sent
        except BaseException:
            await _kill(proc)
            raise
        return proc

    async def _wait(self, proc: Process, request: bytes, on_progress: Reporter | None) -> Any:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        tail = bytearray()
        drain = asyncio.create_task(_keep_tail(proc.stderr, tail))
        deadline = asyncio.timeout(self.limits.wall_seconds)
        try:
            async with deadline:
                # stdin stays open until the child is gone: its EOF tells the child that the
                # parent died (see __main__).
                try:
                    proc.stdin.write(request)
                    await proc.stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # it died before reading its call: the exit status says how
                answer = await self._answer(proc.stdout, on_progress)
                code = await proc.wait()
        except TimeoutError:
            if not deadline.expired():
                raise
            raise ChildOutOfTime(self.name, "wall", self.limits.wall_seconds) from None
        except frames.FrameTooLarge as exc:
            raise SandboxError(f"{self.name} failed: {exc}") from None
        finally:
            await _kill(proc)
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
            proc.stdin.close()
        return self._outcome(answer, code, bytes(tail))

    async def _answer(
        self, stdout: asyncio.StreamReader, on_progress: Reporter | None
    ) -> tuple[Any, ...] | None:
        while True:
            try:
                answer = await frames.read_answer(stdout)
            except asyncio.IncompleteReadError:
                return None  # died first: the exit status says how
            if answer[0] != "progress":
                return answer
            if on_progress is not None:
                try:
                    on_progress(answer[1])
                except Exception:  # a reporting bug must not lose the work's result
                    log.exception("%s: the progress callback failed", self.name)

    def _outcome(self, answer: tuple[Any, ...] | None, code: int, tail: bytes) -> Any:
        if answer is not None:
            match answer:
                case ("ok", value):
                    return value
                case ("memory", message):
                    raise ChildOutOfMemory(self.name, self.limits.memory_bytes, message)
                case ("raised", type_name, message, original):
                    if isinstance(original, BaseException):
                        raise ChildRaised(self.name, type_name, message, original) from original
                    raise ChildRaised(self.name, type_name, message, None)
            raise SandboxError(f"{self.name} answered {answer[0]!r}, which is not an answer")
        if tail:
            log.warning("%s died; its last output:\n%s", self.name, tail.decode("utf-8", "replace"))
        if code == -signal.SIGXCPU:
            raise ChildOutOfTime(self.name, "cpu", self.limits.cpu_seconds)
        if code < 0:
            raise ChildCrashed(self.name, signal_number=-code, exit_code=None)
        raise ChildCrashed(self.name, signal_number=None, exit_code=code)


# What a child sees of the environment: enough to run, and no credentials (DATABASE_URL, a
# provider's API key). Work on hostile input gets nothing it could misuse should a decoder be
# exploited; the limits bound resources, they are no wall against code running as our user.
_PASSED = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR"})
_PASSED_PREFIXES = ("LC_", "MALLOC_", "OMP_", "OPENBLAS_")


def _child_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASSED or k.startswith(_PASSED_PREFIXES)}
    # glibc reserves a 64 MiB arena per thread (up to 8 per core) as address space it may
    # never touch; under RLIMIT_AS those reservations would eat the budget of FFmpeg's threads.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    return env


async def _keep_tail(stream: asyncio.StreamReader, tail: bytearray) -> None:
    """Reads the child's stderr to its end (a full pipe would block the child), keeping a tail."""
    while chunk := await stream.read(4096):
        tail += chunk
        del tail[:-STDERR_TAIL_BYTES]


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kills the child's whole process group unless it has already exited, and reaps it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            # Its own session: the group id is its pid, and the group is everything it started.
            os.killpg(proc.pid, signal.SIGKILL)
    # Not cancellable halfway: the kill is sent, and the wait is short once it is.
    await asyncio.shield(proc.wait())
