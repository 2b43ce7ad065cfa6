"""Per-user shares of a service's slots: one user's slow or many jobs leave room for others.

A handler takes its user's share before it works; a user whose share is in use gets `Deferred`
(the message comes back shortly, no attempt spent) and the slot it would have held stays free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .worker import Deferred


class FairShares:
    """At most `per_user` handlers of one user at once in this process."""

    def __init__(self, per_user: int, retry_seconds: float) -> None:
        self.per_user = per_user
        self.retry_seconds = retry_seconds
        self._running: dict[str, int] = {}

    @staticmethod
    def cap_for(configured: int, concurrency: int) -> int:
        """The share to use beside `concurrency` slots: below it, so that one user alone can
        never hold them all (one slot when there is only one)."""
        return max(1, min(configured, concurrency - 1))

    def running(self, user: str) -> int:
        return self._running.get(user, 0)

    @contextlib.contextmanager
    def share(self, user: str) -> Iterator[None]:
        """Holds one of `user`'s share for the block, or raises Deferred if none is free."""
        held = self._running.get(user, 0)
        if held >= self.per_user:
            raise Deferred(
                f"user {user} already has {held} running here (the per-user share)",
                delay=self.retry_seconds,
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
