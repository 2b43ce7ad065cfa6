"""Run a function in a child process with bounded memory, CPU time and wall-clock time.

For work that may crash or exhaust its process (decoding user media, rendering): the child dies,
the caller gets a typed error saying how, and its own process carries on.
"""

from __future__ import annotations

from .errors import ChildCrashed, ChildOutOfMemory, ChildOutOfTime, ChildRaised, SandboxError
from .runner import ChildLimits, FunctionRef, Reporter, Sandbox

__all__ = [
    "ChildCrashed",
    "ChildLimits",
    "ChildOutOfMemory",
    "ChildOutOfTime",
    "ChildRaised",
    "FunctionRef",
    "Reporter",
    "Sandbox",
    "SandboxError",
]
