"""How sandboxed work can end other than with a result: one error type per way."""

from __future__ import annotations

import signal
from typing import Literal

from adpipe.errors import AdpipeError


class SandboxError(AdpipeError):
    """The child process did not hand back a result."""

    title = "Sandboxed work failed"


class ChildCrashed(SandboxError):
    """The child died without an answer: killed by a signal (`signal`) or exited (`exit_code`).

    SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT are a native library crashing on its input; a
    SIGKILL nobody here sent is usually the kernel's OOM killer.
    """

    def __init__(self, what: str, *, signal_number: int | None, exit_code: int | None) -> None:
        if signal_number is not None:
            detail = f"{what} was killed by {signal_name(signal_number)}"
        else:
            detail = f"{what} exited with status {exit_code} without an answer"
        super().__init__(detail, signal=signal_number, exit_code=exit_code)
        self.signal = signal_number
        self.exit_code = exit_code


class ChildOutOfMemory(SandboxError, MemoryError):
    """An allocation in the child failed against its address-space limit."""

    def __init__(self, what: str, limit_bytes: int | None, cause: str = "") -> None:
        limit = f" of {limit_bytes / 2**20:.0f} MiB" if limit_bytes else ""
        because = f" ({cause})" if cause else ""
        super().__init__(f"{what} needed more memory than its limit{limit}{because}")
        self.limit_bytes = limit_bytes


class ChildOutOfTime(SandboxError, TimeoutError):
    """The child used up its CPU seconds (`clock="cpu"`) or ran past its wall-clock deadline."""

    def __init__(self, what: str, clock: Literal["cpu", "wall"], seconds: float | None) -> None:
        limit = f" of {seconds:g} s" if seconds is not None else ""
        kind = "CPU time" if clock == "cpu" else "time"
        super().__init__(f"{what} ran out of its {kind}{limit}", clock=clock)
        self.clock = clock
        self.seconds = seconds


class ChildRaised(SandboxError):
    """The function raised; `original` is the exception itself when it could be sent back."""

    def __init__(
        self, what: str, type_name: str, message: str, original: BaseException | None
    ) -> None:
        super().__init__(f"{what} failed: {type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.original = original


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
