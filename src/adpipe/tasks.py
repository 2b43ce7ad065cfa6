"""Stopping asyncio tasks reliably on Python 3.11."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(
    task: asyncio.Task[Any] | asyncio.Future[Any], grace: float = 1.0
) -> None:
    """Cancels until the task is really done.

    Python 3.11's `asyncio.wait_for` (used inside nats-py and others) can swallow a cancellation
    that races with its inner future completing; the task then runs on. Repeating the cancel
    until the task finishes makes shutdown deterministic.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace)
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, asyncio.CancelledError):
            raise exc  # type: ignore[misc]


def raise_if_cancelling() -> None:
    """Raises CancelledError if the running task has been asked to stop.

    A cancellation that a library's `asyncio.wait_for` swallowed (Python 3.11; psycopg_pool
    waits for a free connection with one) is still counted by `Task.cancelling()`. A loop that
    checks it stops as asked, instead of running on inside a TaskGroup that cancels its children
    only once and then waits for them for ever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
