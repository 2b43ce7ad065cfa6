"""Group commit: appends queued while a batch is in flight are written together, yet each one is
decided on its own against the log as the earlier ones in its batch leave it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from adpipe.context import Core
from adpipe.errors import Conflict, StreamVersionConflict
from adpipe.events.catalogue import NewEvent
from adpipe.events.party import (
    CampaignCreated,
    CampaignProfile,
    ClientCreated,
    ClientDeleted,
    ClientProfile,
    ClientUpdated,
)
from adpipe.storage.chain import canonical_json, canonical_stored, link, stored_as_written
from adpipe.storage.eventstore import EventStore, GuardFailed, NoneSince


def updated(name: str) -> ClientUpdated:
    return ClientUpdated(profile=ClientProfile(name=name))


class Held:
    """An event store whose first batch waits at a gate, so what follows queues up behind it;
    counts the batches it commits. (Set up what a test needs through another store.)"""

    def __init__(self, core: Core) -> None:
        self.gate = asyncio.Event()
        self.batches = 0
        self.store = EventStore(core.pool, before_commit=self._hold, chain_key=b"k" * 32)

    async def _hold(self) -> None:
        self.batches += 1
        await self.gate.wait()

    async def behind_a_held_batch(self, *appends: Awaitable[Any]) -> list[Any]:
        first = asyncio.ensure_future(self.store.append("client-first", [updated("0")], 0))
        while self.batches == 0:  # noqa: ASYNC110 - the hook counts; nothing else to wait on
            await asyncio.sleep(0.001)
        tasks = [asyncio.ensure_future(a) for a in appends]
        await asyncio.sleep(0.05)  # every append is queued (each prepares, then queues)
        self.gate.set()
        await first
        return await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_conflict_in_a_batch_fails_only_its_own_append(core: Core) -> None:
    held = Held(core)
    store = held.store
    await core.store.append("client-a", [updated("a1")], 0)
    results = await held.behind_a_held_batch(
        store.append("client-a", [updated("a2")], 1),
        store.append("client-a", [updated("stale")], 1),  # a2 took version 2 in this batch
        store.append("client-b", [updated("b1"), updated("b2")], 0),
        store.append("client-a", [updated("a3")], 2),
    )
    assert held.batches == 2, "the four appends were not written as one batch"
    assert isinstance(results[1], StreamVersionConflict) and results[1].actual == 2
    assert [e.version for e in results[0]] == [2]
    assert [e.version for e in results[2]] == [1, 2]
    assert [e.version for e in results[3]] == [3]
    positions = [e.position for r in (results[0], results[2], results[3]) for e in r]
    assert positions == sorted(positions) == list(range(positions[0], positions[0] + 4))
    assert [e.data for e in await store.read_stream("client-a")] == [
        updated("a1"),
        updated("a2"),
        updated("a3"),
    ]
    assert results[0] + results[3] == (await store.read_stream("client-a"))[1:]


async def test_guards_see_what_earlier_appends_in_the_same_batch_wrote(core: Core) -> None:
    held = Held(core)
    store = held.store
    created = ClientCreated(client_id="c1", user_id="u", profile=ClientProfile(name="C"))
    await core.store.append("client-c1", [created], 0)
    head = await store.last_position()
    alive = NoneSince(types=("client.deleted",), stream="client-c1", reason="c1 was deleted")
    owned = NoneSince(
        position=head, types=("campaign.created",), matching={"clientId": "c1"}, reason="in use"
    )

    def campaign(n: int, client: str) -> CampaignCreated:
        return CampaignCreated(
            campaign_id=f"k{n}", client_id=client, user_id="u", profile=CampaignProfile(name="K")
        )

    results = await held.behind_a_held_batch(
        store.append("campaign-k1", [campaign(1, "c2")], 0, guards=[alive]),
        store.append("client-c1", [ClientDeleted()], 1, guards=[owned]),  # k1 is another's
        store.append("campaign-k2", [campaign(2, "c1")], 0, guards=[alive]),  # c1 just deleted
        store.append("campaign-k3", [campaign(3, "c1")], 0),
        store.append("client-c1", [updated("X")], 2, guards=[owned]),  # k3 names c1: refused
    )
    assert held.batches == 2
    assert not isinstance(results[0], BaseException)
    assert not isinstance(results[1], BaseException)
    assert isinstance(results[2], GuardFailed) and "c1 was deleted" in str(results[2])
    assert not isinstance(results[3], BaseException)
    assert isinstance(results[4], GuardFailed) and "in use" in str(results[4])
    assert await store.stream_version("campaign-k2") == 0
    assert await store.stream_version("client-c1") == 2


async def test_a_retry_in_the_same_batch_answers_the_first_and_links_stay_whole(
    core: Core,
) -> None:
    held = Held(core)
    store = held.store
    batch = [NewEvent(event=updated("once")), NewEvent(event=updated("twice"))]
    results = await held.behind_a_held_batch(
        store.append("client-r", batch, 0),
        store.append("client-r", batch, 0),  # a client's retry racing its first attempt
        store.append("client-other", [batch[0]], 0),  # the same id elsewhere: not a retry
    )
    assert held.batches == 2
    assert results[0] == results[1] == await store.read_stream("client-r")
    assert isinstance(results[2], Conflict)

    in_stream: dict[str, str] = {}
    in_log = ""
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, stream, version, type, data::text, metadata::text, recorded_at, hash"
            " FROM events ORDER BY position"
        )
        rows = await cur.fetchall()
    assert len(rows) == 3
    for event_id, stream, version, kind, data, meta, at, stored in rows:
        expected = link(
            b"k" * 32,
            in_stream.get(stream, ""),
            in_log,
            event_id=str(event_id),
            stream=stream,
            version=version,
            event_type=kind,
            data_text=data,
            metadata_text=meta,
            recorded_at=at,
        )
        assert stored == expected
        in_stream[stream] = in_log = stored


@pytest.mark.parametrize("writers", [8])
async def test_concurrent_appends_share_transactions(core: Core, writers: int) -> None:
    held = Held(core)
    results = await held.behind_a_held_batch(
        *(held.store.append(f"client-w{n}", [updated(str(n))], 0) for n in range(writers))
    )
    assert held.batches < 1 + writers
    assert all(not isinstance(r, BaseException) for r in results)


# (value, whether our canonical text is taken as its stored form): exponents and -0.0 are not.
STORED_FORMS = [
    ({"a": 1, "b": [True, None, "x"], "c": {"z": 0.1, "é": 'ü\u2028\\"q"'}}, True),
    ({"n": 6.0, "m": 12345678.9, "big": 10**30, "neg": -3, "f": -2.5}, True),
    ({"s": "tab\there\nnewline"}, True),
    ({"budget": 1e16}, False),
    ({"budget": -0.0}, False),
    ({"k": 1.5e-7}, False),
    ({"budget": 1.7976931348623157e308}, False),
]


@pytest.mark.parametrize(("value", "plain"), STORED_FORMS)
async def test_what_is_hashed_without_asking_postgres_is_its_stored_form(
    core: Core, value: Any, plain: bool
) -> None:
    """Appends skip asking Postgres how jsonb stores their data when `stored_as_written` says
    our canonical text already is that form; the chain would otherwise not verify."""
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT %s::jsonb::text", [canonical_json(value)])
        row = await cur.fetchone()
    assert row is not None
    assert stored_as_written(value) is plain
    if plain:
        assert canonical_stored(row[0]) == canonical_json(value)


async def test_an_append_following_others_shares_their_batch_and_needs_them_written(
    core: Core,
) -> None:
    held = Held(core)
    store = held.store
    await core.store.append("asset-taken", [updated("there")], 0)

    async def in_order(first: str, then: str) -> list[Any]:
        earlier = store.append_soon(first, [updated("asset")], 0)
        later = store.append(then, [updated("job")], 0, follows=[earlier])
        return list(await asyncio.gather(earlier, later, return_exceptions=True))

    written, refused = await held.behind_a_held_batch(
        in_order("asset-1", "job-1"), in_order("asset-taken", "job-2")
    )
    assert held.batches == 2, "the four appends were not written as one batch"
    asset, job = written
    assert [e.stream for e in [*asset, *job]] == ["asset-1", "job-1"]
    assert job[0].position == asset[0].position + 1
    assert isinstance(refused[0], StreamVersionConflict)
    assert isinstance(refused[1], Conflict) and "an append it follows" in str(refused[1])
    assert await store.stream_version("job-2") == 0
    # One already recorded (a retry's) counts as written.
    again = store.append_soon("asset-1", [NewEvent(event=e.data, id=e.id) for e in asset], 0)
    assert (await store.append("job-3", [updated("x")], 0, follows=[again]))[0].version == 1
    assert await again == asset
