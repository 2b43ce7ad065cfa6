"""Per-user shares: work deferred for its user's share is woken, first come first woken, the
moment one of that user's handlers ends — and only then."""

from __future__ import annotations

import asyncio

import pytest

from adpipe.fairness import FairShares
from adpipe.worker import Deferred


def deferral(shares: FairShares, user: str) -> Deferred:
    with pytest.raises(Deferred) as caught, shares.share(user):
        pass
    return caught.value


async def test_deferred_work_is_woken_when_its_users_share_frees_first_deferred_first() -> None:
    shares = FairShares(per_user=1, retry_seconds=3600)
    order: list[str] = []

    async def wait_then_note(name: str, deferred: Deferred) -> None:
        assert deferred.wake is not None
        await deferred.wake()
        order.append(name)

    with shares.share("alice"):
        second = asyncio.create_task(wait_then_note("second", deferral(shares, "alice")))
        await asyncio.sleep(0)  # the second is waiting before the third is deferred
        third = asyncio.create_task(wait_then_note("third", deferral(shares, "alice")))
        with shares.share("bob"):  # another user's share is another's: it wakes nobody
            pass
        for _ in range(3):
            await asyncio.sleep(0)
        assert shares.waiting("alice") == 2
        assert order == []
    await second  # alice's share freed: the first deferred wakes, the other still waits
    assert order == ["second"]
    assert not third.done()
    with shares.share("alice"):  # the woken one runs with the share, then frees it
        pass
    await third
    assert order == ["second", "third"]
    assert shares.waiting("alice") == 0


async def test_deferred_work_that_stops_waiting_leaves_the_queue() -> None:
    shares = FairShares(per_user=1, retry_seconds=3600)
    with shares.share("alice"):
        wake = deferral(shares, "alice").wake
        assert wake is not None
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await wake()  # handed back after its delay, as the runner does
        assert shares.waiting("alice") == 0
        later = deferral(shares, "alice").wake
        assert later is not None
        waiting = asyncio.create_task(later())
        await asyncio.sleep(0)
    await waiting  # the share's one wake went to the work still waiting, not the one gone
