"""Per-user shares of a service's slots: one user's slow or many jobs leave room for others.

A handler takes its user's share before it works; a user whose share is in use gets `Deferred`
and the slot it would have held stays free. The deferred message waits in this process, without
a slot, until one of its user's handlers here ends — then it is woken at once and runs — or until
the retry delay passes, when it is handed back so that any instance may take it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

from .worker import Deferred


class FairShares:
    """At most `per_user` handlers of one user at once in this process."""

    def __init__(self, per_user: int, retry_seconds: float) -> None:
        self.per_user = per_user
        self.retry_seconds = retry_seconds
        self._running: dict[str, int] = {}
        # Deferred work of each user waiting here for a share, first deferred first woken.
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    @staticmethod
    def cap_for(configured: int, concurrency: int) -> int:
        """The share to use beside `concurrency` slots: below it, so that one user alone can
        never hold them all (one slot when there is only one)."""
        return max(1, min(configured, concurrency - 1))

    def running(self, user: str) -> int:
        return self._running.get(user, 0)

    def waiting(self, user: str) -> int:
        return len(self._waiting.get(user, ()))

    @contextlib.contextmanager
    def share(self, user: str) -> Iterator[None]:
        """Holds one of `user`'s share for the block, or raises Deferred if none is free."""
        held = self._running.get(user, 0)
        if held >= self.per_user:
            raise Deferred(
                f"user {user} already has {held} running here (the per-user share)",
                delay=self.retry_seconds,
                wake=self._wake_for(user),
            )
        self._running[user] = held + 1
        try:
            yield
        finally:
            left = self._running[user] - 1
            if left:
                self._running[user] = left
            else:
                del self._running[user]
            self._wake_next(user)

    def _wake_for(self, user: str) -> Callable[[], Awaitable[None]]:
        """What the deferred work awaits: returns when a share of `user` frees here, the work
        that began waiting first woken first."""

        async def wake() -> None:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue = self._waiting.setdefault(user, deque())
            queue.append(future)
            try:
                await future
            finally:
                # Given up (handed back, stopped; awaiting it, the future was cancelled with
                # it): leave the queue, so that a share freed later wakes work still waiting.
                if future.cancelled() or not future.done():
                    future.cancel()
                    with contextlib.suppress(ValueError):
                        queue.remove(future)
                    if not queue and self._waiting.get(user) is queue:
                        del self._waiting[user]

        return wake

    def _wake_next(self, user: str) -> None:
        queue = self._waiting.get(user)
        if queue is None:
            return
        while queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(None)
                break
        if not queue:
            del self._waiting[user]
