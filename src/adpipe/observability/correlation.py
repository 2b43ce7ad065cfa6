"""Who and what a log line, a span or a metric is about: the ids of the work in hand.

The API sets them per request (`requestId`, `userId`, `jobId`), the service runtime per delivery
(`eventId`, `jobId`, the causing request), and every role names itself (`role`). They live in
contextvars, so each request and each delivery — an asyncio task of its own — sees only its ids,
and nothing has to pass them down by hand.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

# The role of the process (`adpipe service planner` → planner); a task inside a process that
# runs several roles (tests, the single-process stack) overrides it with `bind(role=…)`.
_process_role = "adpipe"

role: Final[ContextVar[str | None]] = ContextVar("adpipe_role", default=None)
request_id: Final[ContextVar[str | None]] = ContextVar("adpipe_request_id", default=None)
job_id: Final[ContextVar[str | None]] = ContextVar("adpipe_job_id", default=None)
event_id: Final[ContextVar[str | None]] = ContextVar("adpipe_event_id", default=None)
user_id: Final[ContextVar[str | None]] = ContextVar("adpipe_user_id", default=None)

# Log field name -> its variable, in the order a JSON line shows them.
FIELDS: Final[dict[str, ContextVar[str | None]]] = {
    "requestId": request_id,
    "jobId": job_id,
    "eventId": event_id,
    "userId": user_id,
}


def set_process_role(name: str) -> None:
    global _process_role
    _process_role = name


def current_role() -> str:
    return role.get() or _process_role


def bind(
    *,
    role_name: str | None = None,
    request: str | None = None,
    job: str | None = None,
    event: str | None = None,
    user: str | None = None,
) -> None:
    """Sets the given ids for the rest of the current task (and the tasks it starts).

    Only what is passed changes. There is no reset: callers bind at the top of a task of their own
    (a request, a delivery), whose context dies with it.
    """
    for var, value in (
        (role, role_name),
        (request_id, request),
        (job_id, job),
        (event_id, event),
        (user_id, user),
    ):
        if value is not None:
            var.set(value)


def start_work() -> None:
    """Clears the work ids: a request or delivery starts from nothing its parent task bound."""
    for var in FIELDS.values():
        var.set(None)


def current() -> dict[str, str]:
    """The ids bound now, by log field name."""
    return {name: value for name, var in FIELDS.items() if (value := var.get()) is not None}
