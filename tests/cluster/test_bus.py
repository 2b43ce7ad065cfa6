"""The bus in a cluster: several servers in NATS_URL, a stream that keeps the settings it was given,
replicas for the stream and its consumers, a relay that loses and repeats nothing when the stream
leader dies, and a consumer loop that rebuilds a subscription gone quiet."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adpipe.bus import StreamConfigError, connect, ensure_stream, server_urls
from adpipe.context import Core, open_core
from adpipe.errors import DependencyUnavailable
from adpipe.events.catalogue import Envelope, Metadata, encode
from adpipe.events.party import ClientProfile, ClientUpdated
from adpipe.relay import Relay
from adpipe.runtime.nats import EmbeddedNatsCluster
from adpipe.runtime.ports import free_port
from adpipe.settings import load_settings
from adpipe.tasks import cancel_and_wait
from adpipe.worker import Delivery, ServiceRunner, ServiceSpec
from testkit.cluster import current_peers, stream_envelopes, stream_info
from testkit.core import eventually


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    async with open_core(load_settings({}, database_url=database_url)) as opened:
        yield opened


def test_nats_url_lists_servers_separated_by_commas() -> None:
    assert server_urls("nats://a:4222, nats://b:4222,,nats://c:4222 ") == [
        "nats://a:4222",
        "nats://b:4222",
        "nats://c:4222",
    ]
    with pytest.raises(DependencyUnavailable):
        server_urls(" , ")


def test_stream_replicas_come_from_the_environment_and_are_checked() -> None:
    assert load_settings({}).stream_replicas is None  # keep what the stream has
    assert load_settings({"ADPIPE_STREAM_REPLICAS": "3"}).stream_replicas == 3
    with pytest.raises(Exception, match="ADPIPE_STREAM_REPLICAS must be a whole number from 1"):
        load_settings({"ADPIPE_STREAM_REPLICAS": "0"})


async def test_a_client_reaches_the_servers_that_answer_in_its_list(nats_url: str) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    nc = await connect(f"{dead},{nats_url}", name="test")
    try:
        assert nc.is_connected
        assert nc.connected_url is not None and nc.connected_url.port == int(nats_url[-5:])
    finally:
        await nc.close()


async def test_ensuring_the_stream_without_settings_keeps_the_ones_it_has(nats_url: str) -> None:
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        created = await ensure_stream(js, duplicate_window=30.0)
        assert created.config.duplicate_window == 30.0
        assert created.config.num_replicas == 1
        kept = await ensure_stream(js)  # what a service does: it only wants the stream to exist
        assert kept.config.duplicate_window == 30.0
        changed = await ensure_stream(js, duplicate_window=90.0)
        assert changed.config.duplicate_window == 90.0
        assert (await js.stream_info("ADPIPE")).config.duplicate_window == 90.0
    finally:
        await nc.close()


async def test_more_replicas_than_servers_is_refused_with_the_reason(nats_url: str) -> None:
    nc = await connect(nats_url)
    try:
        with pytest.raises(StreamConfigError, match="3 replica"):
            await ensure_stream(nc.jetstream(), replicas=3)
        with pytest.raises(StreamConfigError, match="between 1 and 5"):
            await ensure_stream(nc.jetstream(), replicas=7)
    finally:
        await nc.close()


@pytest.mark.slow
async def test_the_stream_and_each_consumer_keep_three_copies_on_a_three_node_cluster(
    nats_cluster: EmbeddedNatsCluster,
) -> None:
    nc = await connect(nats_cluster.url)
    try:
        js = nc.jetstream()

        async def handle(delivery: Delivery) -> None:
            return None

        spec = ServiceSpec(name="copies", subjects=["adpipe.client.>"], handle=handle, replicas=3)
        await ServiceRunner(spec, js).ensure_consumer()
        info = await js.stream_info("ADPIPE")
        assert info.config.num_replicas == 3
        consumer = await js.consumer_info("ADPIPE", "copies")
        assert consumer.config.num_replicas == 3
        names = {node.server_name for node in nats_cluster.nodes}

        async def all_current() -> bool:
            return current_peers(await js.stream_info("ADPIPE")) == names

        await eventually(all_current)
    finally:
        await nc.close()


@pytest.mark.slow
async def test_a_process_without_the_setting_never_scales_the_stream_down(
    nats_cluster: EmbeddedNatsCluster,
) -> None:
    nc = await connect(nats_cluster.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, replicas=3)

        async def handle(delivery: Delivery) -> None:
            return None

        # Started without ADPIPE_STREAM_REPLICAS, as a forgotten replica or a tool would be.
        spec = ServiceSpec(name="unset", subjects=["adpipe.client.>"], handle=handle)
        await ServiceRunner(spec, js).ensure_consumer()
        assert (await js.stream_info("ADPIPE")).config.num_replicas == 3
        consumer = await js.consumer_info("ADPIPE", "unset")
        assert consumer.cluster is not None
        assert len(consumer.cluster.replicas or []) == 2  # a leader and two followers
    finally:
        await nc.close()


@pytest.mark.slow
async def test_the_relay_loses_and_repeats_nothing_when_the_stream_leader_dies(
    core: Core, nats_cluster: EmbeddedNatsCluster
) -> None:
    nc = await connect(nats_cluster.url, name="relay")
    js = nc.jetstream()
    await ensure_stream(js, replicas=3)
    relay = Relay(core.store, js, core.settings.database_url, waker=core.waker, replicas=3)
    task = asyncio.create_task(relay.run())
    try:

        async def append(stream: str, count: int) -> None:
            for version in range(count):
                profile = ClientProfile(name=f"{stream} {version}")
                await core.store.append(stream, [ClientUpdated(profile=profile)], version)

        await append("client-a", 20)
        await eventually(lambda: relayed(nats_cluster.url, 20))
        # Kill the leader while events keep coming: some publishes are in flight as it dies.
        appending = asyncio.create_task(append("client-b", 60))
        await eventually(lambda: relayed(nats_cluster.url, 30))
        info = await stream_info(nats_cluster.url)
        assert info.cluster is not None and info.cluster.leader
        nats_cluster.node_named(info.cluster.leader).kill()
        await appending
        await eventually(lambda: relayed(nats_cluster.url, 80), within=60)
    finally:
        await cancel_and_wait(task)
        await nc.close()
    messages = await stream_envelopes(nats_cluster.url)
    log = await core.store.read_all(0, 1000)
    assert [m.id for m in messages] == [e.id for e in log]


async def relayed(url: str, count: int) -> bool:
    try:
        return (await stream_info(url)).state.messages >= count
    except Exception:
        return False  # mid-election


class DeafFirstSubscription(ServiceRunner):
    """Its first subscription never hears anything: the quiet pull subscription after a server
    restart, made on purpose. Fault injection, not a fake: the server and consumer are real."""

    idle_check_fetches = 2
    subscriptions = 0

    async def _subscribe(self) -> Any:
        self.subscriptions += 1
        sub = await super()._subscribe()
        if self.subscriptions > 1:
            return sub

        class Deaf:
            async def fetch(self, batch: int, timeout: float) -> list[Any]:  # noqa: ASYNC109
                await asyncio.sleep(timeout)
                raise TimeoutError

            async def unsubscribe(self) -> None:
                await sub.unsubscribe()

        return Deaf()


async def test_a_subscription_gone_quiet_with_messages_waiting_is_rebuilt(nats_url: str) -> None:
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        seen: list[str] = []

        async def handle(delivery: Delivery) -> None:
            seen.append(delivery.envelope.id)

        spec = ServiceSpec(name="quiet", subjects=["adpipe.client.>"], handle=handle)
        runner = DeafFirstSubscription(spec, js)
        await runner.ensure_consumer()
        await publish_client_update(js)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:

            async def handled() -> bool:
                return len(seen) == 1

            await eventually(handled, within=20)
            assert runner.subscriptions == 2
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    finally:
        await nc.close()


async def publish_client_update(js: Any) -> None:
    event_id = str(uuid.uuid4())
    envelope = Envelope(
        id=event_id,
        stream="client-q",
        version=1,
        position=1,
        type="client.updated",
        data=ClientUpdated(profile=ClientProfile(name="q")),
        metadata=Metadata(actor="test"),
        recorded_at=datetime.now(UTC),
    )
    await js.publish(envelope.subject, encode(envelope), headers={"Nats-Msg-Id": event_id})
