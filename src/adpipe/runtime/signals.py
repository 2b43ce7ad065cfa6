"""Stop requests (SIGINT, SIGTERM) caught from a command's first line on, none lost to a race.

A long-running command installs `StopSignals` before it starts anything. A signal that lands while
Postgres initialises, before the event loop exists, or while the loop starts is recorded instead of
being lost (a SIGINT inherited as ignored, as every background job of a script has it) or fatal
(SIGTERM's default action kills the process and orphans whatever it started). The handlers are
installed once and never swapped, so there is no moment without one; `attach` makes an event loop
hear each signal through the wakeup fd, which any thread's delivery writes to.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class StopSignals:
    """Records SIGINT and SIGTERM from `install()` until `release()`; see the module docstring."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._previous: dict[int, _Handler] = {}
        self._wakeup: tuple[int, int] | None = None
        self._previous_wakeup = -1

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for (startup steps check it between steps)."""
        return bool(self.received)

    def install(self) -> StopSignals:
        """Catch the stop signals now; a no-op outside the main thread (Python allows no handler
        there), where the caller's own process-wide handlers stay in charge."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return self
        read, write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wakeup = (read, write)
        # Whichever thread the kernel picks for the delivery writes the signal number here, so a
        # loop blocked in epoll wakes even when the main thread is not the one interrupted.
        self._previous_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._record)
        return self

    def release(self) -> None:
        """Give the previous handlers back; a stop that arrived meanwhile is delivered to them."""
        if not self._previous:
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_wakeup)
        if self._wakeup is not None:
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None
        for sig in dict.fromkeys(self.received):
            signal.raise_signal(sig)

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextlib.contextmanager
    def attach(
        self, loop: asyncio.AbstractEventLoop, on_stop: Callable[[int], None]
    ) -> Iterator[None]:
        """Call `on_stop(signal)` in `loop` once per stop signal, including those received before.

        The wakeup pipe is the one record the loop reads: every delivery wrote one byte there,
        also those that came before the loop existed, so none is lost or counted twice.
        """
        if self._wakeup is None:
            yield
            return
        read = self._wakeup[0]

        def woken() -> None:
            for number in self._drain(read):
                if number in STOP_SIGNALS:
                    on_stop(number)

        loop.add_reader(read, woken)
        try:
            yield
        finally:
            loop.remove_reader(read)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    @staticmethod
    def _drain(fd: int) -> list[int]:
        numbers: list[int] = []
        while True:
            try:
                chunk = os.read(fd, 512)
            except BlockingIOError:
                return numbers
            if not chunk:
                return numbers
            numbers.extend(chunk)
