"""An event a projection cannot fold is skipped and recorded: the projection and the others go
on, and nothing waiting for the read models freezes behind it."""

from __future__ import annotations

import asyncio
from typing import Any

from adpipe.context import Core
from adpipe.projections.campaigns import CampaignsProjection
from adpipe.projections.clients import ClientsProjection
from adpipe.projector import (
    Projector,
    degraded_projections,
    projections_position,
    wait_for_projections,
)
from adpipe.tasks import cancel_and_wait
from core.test_projector import seed_clients, snapshot


class PoisonedClients(ClientsProjection):
    """Cannot fold one event, every time: a bug meeting data it does not expect."""

    def __init__(self, poison: int) -> None:
        self.poison = poison

    async def apply(self, conn: Any, envelope: Any) -> None:
        if envelope.position == self.poison:
            raise KeyError("profile.brandColors")
        await super().apply(conn, envelope)


async def test_an_event_that_cannot_be_folded_is_skipped_recorded_and_the_rest_applied(
    core: Core,
) -> None:
    await seed_clients(core, 30, 3)
    last = await core.store.last_position()
    poison = last // 2
    poisoned = PoisonedClients(poison)
    projector = Projector(
        core.store, core.pool, [poisoned, CampaignsProjection()], batch_size=50, poll_seconds=0.05
    )
    task = asyncio.create_task(projector.run())
    try:
        # Before, the projector restarted on the same batch forever and this timed out.
        await wait_for_projections(core.pool, ["clients", "campaigns"], last, within=30)
    finally:
        await cancel_and_wait(task)
    assert await projections_position(core.pool, ["clients", "campaigns"]) == last
    (degraded,) = await degraded_projections(core.pool)
    assert (degraded.projection, degraded.events, degraded.first_position) == ("clients", 1, poison)
    assert "KeyError" in degraded.first_error and "brandColors" in degraded.first_error

    # Everything but the poisoned event took effect, exactly as folding without it would.
    live = await snapshot(core)
    async with core.pool.connection() as conn:
        await conn.execute("DELETE FROM events WHERE position = %s", [poison])
    await Projector(core.store, core.pool, [ClientsProjection()]).rebuild(ClientsProjection())
    assert await snapshot(core) == live
    assert await degraded_projections(core.pool) == []  # a rebuild clears the record
