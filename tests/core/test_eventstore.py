"""The event store: expected versions, idempotent appends, the hash chain, and gap-free order."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid

import pytest

from adpipe.context import Core
from adpipe.errors import Conflict, StreamVersionConflict
from adpipe.events.catalogue import Metadata, NewEvent
from adpipe.events.party import ClientCreated, ClientDeleted, ClientProfile, ClientUpdated
from adpipe.storage.chain import link
from adpipe.storage.eventstore import (
    ANY,
    NO_STREAM,
    EventStore,
    GuardFailed,
    NoneSince,
)
from adpipe.storage.subscription import follow


def created(name: str = "ACME") -> ClientCreated:
    return ClientCreated(client_id="c1", user_id="u1", profile=ClientProfile(name=name))


def updated(name: str) -> ClientUpdated:
    return ClientUpdated(profile=ClientProfile(name=name))


async def test_appended_events_read_back_in_order_with_versions_and_positions(core: Core) -> None:
    meta = Metadata(actor="user:u1", correlation_id="corr", request_id="req")
    recorded = await core.store.append("client-c1", [created(), updated("B")], NO_STREAM, meta)
    assert [e.version for e in recorded] == [1, 2]
    assert recorded[0].position < recorded[1].position
    read = await core.store.read_stream("client-c1")
    assert read == recorded
    assert read[1].data == updated("B")
    assert read[0].metadata == meta
    assert read[0].type == "client.created"
    assert await core.store.stream_version("client-c1") == 2


async def test_appending_at_a_stale_version_raises_a_typed_conflict(core: Core) -> None:
    await core.store.append("client-c1", [created()], NO_STREAM)
    with pytest.raises(StreamVersionConflict) as caught:
        await core.store.append("client-c1", [updated("X")], NO_STREAM)
    assert caught.value.actual == 1
    with pytest.raises(StreamVersionConflict):
        await core.store.append("client-c1", [updated("X")], 5)
    await core.store.append("client-c1", [updated("Y")], 1)
    await core.store.append("client-c1", [updated("Z")], ANY)
    assert await core.store.stream_version("client-c1") == 3


async def test_repeating_an_append_with_the_same_event_ids_writes_nothing(core: Core) -> None:
    batch = [NewEvent(event=created()), NewEvent(event=updated("B"))]
    first = await core.store.append("client-c1", batch, NO_STREAM)
    again = await core.store.append("client-c1", batch, NO_STREAM)
    assert again == first
    assert len(await core.store.read_all(0)) == 2
    with pytest.raises(Conflict):  # the same id under another stream is not a retry
        await core.store.append("client-c2", [batch[0]], NO_STREAM)


async def test_guards_on_other_streams_and_the_log_refuse_the_append(core: Core) -> None:
    store = core.store
    await store.append("client-c1", [created()], NO_STREAM)
    alive = NoneSince(types=("client.deleted",), stream="client-c1", reason="c1 was deleted")
    await store.append("campaign-k1", [updated("K")], NO_STREAM, guards=[alive])
    await store.append("client-c9", [ClientDeleted()], NO_STREAM)  # another stream: no matter
    await store.append("campaign-k2", [updated("K")], NO_STREAM, guards=[alive])
    await store.append("client-c1", [ClientDeleted()], 1)
    with pytest.raises(GuardFailed, match="c1 was deleted"):
        await store.append("campaign-k3", [updated("K")], NO_STREAM, guards=[alive])
    assert await store.stream_version("campaign-k3") == 0  # refused: nothing written

    head = await store.last_position()
    no_new_clients = NoneSince(position=head, types=("client.created",), reason="a new client")
    await store.append("client-c2", [updated("C")], NO_STREAM, guards=[no_new_clients])
    await store.append("client-c3", [created("Other")], NO_STREAM)
    with pytest.raises(GuardFailed, match="a new client"):
        await store.append("client-c2", [updated("D")], 1, guards=[no_new_clients])
    assert await store.stream_version("client-c2") == 1
    assert isinstance(GuardFailed("x"), Conflict)  # answered as 409 by the API


async def test_each_event_links_to_the_previous_one_in_its_stream_and_in_the_log(
    core: Core,
) -> None:
    key = b"k" * 32
    store = EventStore(core.pool, chain_key=key)
    recorded = [
        *await store.append("client-c1", [created(), updated("B")], NO_STREAM),
        *await store.append("client-c2", [created("Other")], NO_STREAM),
        *await store.append("client-c1", [updated("C")], 2),
    ]
    in_stream: dict[str, str] = {}
    in_log = ""
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT position, data::text, metadata::text FROM events ORDER BY position"
        )
        stored = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
    for envelope in recorded:
        data_text, metadata_text = stored[envelope.position]
        expected = link(
            key,
            in_stream.get(envelope.stream, ""),
            in_log,
            event_id=envelope.id,
            stream=envelope.stream,
            version=envelope.version,
            event_type=envelope.type,
            data_text=data_text,
            metadata_text=metadata_text,
            recorded_at=envelope.recorded_at,
        )
        assert envelope.hash == expected and expected.startswith("k1:")
        in_stream[envelope.stream] = in_log = envelope.hash


@pytest.mark.slow
async def test_a_live_subscriber_sees_every_event_of_8_concurrent_writers_once_in_order(
    core: Core, rng: random.Random
) -> None:
    writers, per_writer = 8, 400
    total = writers * per_writer
    seen: list[tuple[int, str]] = []
    done = asyncio.Event()

    async def subscriber() -> None:
        async for batch in follow(core.store, 0, core.waker, batch_size=97, poll_seconds=0.2):
            seen.extend((e.position, e.id) for e in batch)
            if len(seen) >= total:
                done.set()
                return

    async def writer(n: int) -> list[str]:
        ids: list[str] = []
        version = 0
        stream = f"client-w{n}"
        while len(ids) < per_writer:
            size = min(rng.choice([1, 1, 1, 5, 50]), per_writer - len(ids))
            batch = [NewEvent(event=updated(f"{n}-{len(ids) + i}")) for i in range(size)]
            await core.store.append(stream, batch, version)
            version += size
            ids.extend(e.id for e in batch)
            if rng.random() < 0.1:
                await asyncio.sleep(0)
        return ids

    reader = asyncio.create_task(subscriber())
    written = await asyncio.gather(*(writer(n) for n in range(writers)))
    with contextlib.suppress(TimeoutError):  # a skipped event never arrives: asserted below
        await asyncio.wait_for(done.wait(), 30)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    positions = [p for p, _ in seen]
    assert positions == sorted(positions), "the subscriber saw positions out of order"
    assert len(positions) == len(set(positions)) == total, "an event was missed or seen twice"
    assert {i for _, i in seen} == {str(uuid.UUID(i)) for ids in written for i in ids}
