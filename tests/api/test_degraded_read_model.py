"""One event a read model cannot fold degrades that read model, visibly in /readyz, and leaves
every other write answering: nobody's requests freeze behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adpipe.context import Core
from adpipe.events.party import ClientCreated
from adpipe.projections import ALL_PROJECTIONS
from adpipe.projections.clients import ClientsProjection
from adpipe.projector import Projector
from adpipe.tasks import cancel_and_wait

from .conftest import Client


class ClientsThatChokeOnAName(ClientsProjection):
    """The clients read model with a bug: it cannot fold a client named "Poison"."""

    async def apply(self, conn: Any, envelope: Any) -> None:
        if isinstance(envelope.data, ClientCreated) and envelope.data.profile.name == "Poison":
            raise ValueError("cannot index the name")
        await super().apply(conn, envelope)


@pytest.fixture
async def projector(core: Core) -> AsyncIterator[Projector]:
    projections = [
        ClientsThatChokeOnAName() if p.name == "clients" else p for p in ALL_PROJECTIONS()
    ]
    projector = Projector(core.store, core.pool, projections, waker=core.waker, poll_seconds=0.2)
    task = asyncio.create_task(projector.run(), name="projector")
    yield projector
    await cancel_and_wait(task)  # repeats the cancel: one can be swallowed (see adpipe.tasks)


async def test_a_read_model_that_cannot_fold_an_event_is_degraded_not_frozen(
    alice: Client, bob: Client, anonymous: Client
) -> None:
    poisoned = await alice.post("/api/v3/clients", json={"name": "Poison"})
    assert poisoned.status != 503, "the write waited for a read model stuck on its own event"
    created = await bob.post("/api/v3/clients", json={"name": "Bob's shop"})
    assert created.status == 201, created.body
    assert (await bob.get(f"/api/v3/clients/{created.json()['id']}")).status == 200
    ready = await anonymous.get("/readyz")
    assert ready.status == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert "clients skipped 1 event" in body["checks"]["projections"]
    assert "cannot index the name" in body["checks"]["projections"]
