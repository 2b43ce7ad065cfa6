"""The relay: every event reaches JetStream exactly once, in order, across NATS and relay deaths."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import psycopg
import pytest

from adpipe.bus import connect, ensure_stream
from adpipe.context import Core
from adpipe.events.party import ClientProfile, ClientUpdated
from adpipe.relay import Relay
from adpipe.runtime.nats import EmbeddedNats
from adpipe.tasks import cancel_and_wait
from testkit.core import eventually, spawn, stream_messages


async def append_many(core: Core, stream: str, count: int, start_version: int = 0) -> None:
    for i in range(count):
        event = ClientUpdated(profile=ClientProfile(name=f"n{start_version + i}"))
        await core.store.append(stream, [event], start_version + i)


async def test_events_appended_while_nats_is_down_arrive_once_in_order_when_it_returns(
    core: Core, nats_url: str, nats_server: EmbeddedNats
) -> None:
    nc = await connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js)
    relay = Relay(core.store, js, core.settings.database_url, waker=core.waker, poll_seconds=0.1)
    task = asyncio.create_task(relay.run())
    try:
        await append_many(core, "client-a", 5)
        await eventually(lambda: _count(nats_url, 5))
        nats_server.stop()
        await append_many(core, "client-a", 40, start_version=5)
        await append_many(core, "client-b", 15)
        await asyncio.sleep(1.0)  # the relay is retrying against a dead server meanwhile
        nats_server.start()
        await eventually(lambda: _count(nats_url, 60), within=60)
    finally:
        await cancel_and_wait(task)
        await nc.close()
    messages = await stream_messages(nats_url)
    log = await core.store.read_all(0, 1000)
    assert [m.id for m in messages] == [e.id for e in log]
    assert [m.position for m in messages] == sorted(m.position for m in messages)
    assert messages[0].subject == "adpipe.client.updated"


async def _count(url: str, expected: int) -> bool:
    try:
        return len(await stream_messages(url)) >= expected
    except Exception:
        return False


def _leader_app(database_url: str) -> str | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s",
            [0x70650002],
        ).fetchone()
    return row[0] if row else None


@pytest.mark.slow
async def test_only_one_of_two_relays_publishes_and_the_other_takes_over_when_it_dies(
    core: Core, nats_url: str, tmp_path: Path
) -> None:
    procs = {}
    for name in ("relay-a", "relay-b"):
        url = f"{core.settings.database_url}?application_name={name}"
        procs[name] = spawn(
            ["-m", "adpipe.cli", "relay"],
            {"DATABASE_URL": url, "NATS_URL": nats_url},
            tmp_path / f"{name}.log",
        )
    try:

        async def leader_known() -> bool:
            return await asyncio.to_thread(_leader_app, core.settings.database_url) is not None

        await eventually(leader_known)
        leader = await asyncio.to_thread(_leader_app, core.settings.database_url)
        assert leader in procs
        await append_many(core, "client-a", 100)
        await eventually(lambda: _count(nats_url, 100))
        # Kill the leader mid-flight: more events are being appended as it dies.
        appending = asyncio.create_task(append_many(core, "client-b", 100))
        await asyncio.sleep(0.05)
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait(10)
        await appending

        async def other_leads() -> bool:
            now = await asyncio.to_thread(_leader_app, core.settings.database_url)
            return now is not None and now != leader

        await eventually(other_leads)
        await eventually(lambda: _count(nats_url, 200), within=60)
        await asyncio.sleep(1.0)  # anything duplicated would have shown up by now
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    messages = await stream_messages(nats_url)
    log = await core.store.read_all(0, 1000)
    assert len(messages) == 200, "an event was lost or published twice"
    assert [m.id for m in messages] == [e.id for e in log]
