"""Losing a renderer mid-render and the NATS node leading the stream loses no event and no job.

Everything is real and separate: a 3-node JetStream cluster (stream and consumers at 3 replicas),
one Postgres, and two OS processes of every role — API, relay, projector and each service —
pointed at all three NATS servers. Waits are on conditions; the time bound is pytest's timeout.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adpipe.api.keys import create_key
from adpipe.context import Core, open_core
from adpipe.jobs import job_stream
from adpipe.runtime.nats import EmbeddedNatsCluster
from adpipe.runtime.roles import SERVICES
from adpipe.settings import load_settings
from testkit.cluster import (
    RoleProcess,
    RoleSet,
    count_events,
    current_peers,
    head_and_checkpoints,
    http_ok,
    jetstream,
    media_server,
    role_names,
    stream_envelopes,
    stream_info,
)
from testkit.core import ROOT
from testkit.media import jpeg_bytes
from testkit.seed import job_body

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = 3  # approved before the faults, so their renders are queued or under way when they hit
REPLICAS = 2


async def until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    roles: RoleSet,
    within: float,
    every: float = 0.2,
) -> None:
    """Polls `check` until true; on time-out fails with the roles' logs."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within:g} s\n{roles.logs()}")
        await asyncio.sleep(every)


class Api:
    """The public API over every `adpipe api` replica: each call goes to the next one that works."""

    def __init__(self, session: aiohttp.ClientSession, bases: list[str], key: str) -> None:
        self.session, self.bases, self.key = session, bases, key
        self.turn = 0

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        self.turn += 1
        base = self.bases[self.turn % len(self.bases)]
        headers = {"Authorization": f"Bearer {self.key}"}
        async with self.session.request(
            method, f"{base}/api/v3{path}", headers=headers, **kwargs
        ) as response:
            return response.status, await response.json(content_type=None)

    async def job_status(self, job_id: str) -> str:
        status, body = await self.call("GET", f"/jobs/{job_id}")
        assert status == 200, body
        return str(body["status"])


async def create_and_approve(api: Api, roles: RoleSet, client_id: str, image_url: str) -> str:
    status, job = await api.call("POST", "/jobs", json=job_body(client_id, image_url))
    assert status in (201, 202), job
    job_id = str(job["id"])

    async def in_review() -> bool:
        return await api.job_status(job_id) == "storyboard_review"

    await until(in_review, f"job {job_id} in storyboard review", roles, 60)
    status, approved = await api.call(
        "POST", f"/jobs/{job_id}/actions", json={"action": "approve_storyboard"}
    )
    assert status == 200, approved
    return job_id


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    async with open_core(load_settings({}, database_url=database_url)) as opened:
        yield opened


async def test_a_renderer_and_the_stream_leader_die_and_every_job_completes_exactly_once(
    database_url: str, nats_cluster: EmbeddedNatsCluster, core: Core, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_cluster.url,
        "ADPIPE_STREAM_REPLICAS": "3",
        "ADPIPE_ALLOW_PRIVATE_URLS": "1",  # the asset server is on 127.0.0.1
        # The killed renderer's message returns after the ack deadline: 15 s, not 30.
        "ADPIPE_ACK_WAIT_SECONDS": "15",
    }
    roles = RoleSet(tmp_path / "roles", env)
    for role in role_names():
        roles.add(role, REPLICAS)
    assert {f"service:{name}" for name in SERVICES} <= {p.role for p in roles.processes}
    files = {"/product.jpg": (jpeg_bytes((200, 30, 30)), "image/jpeg")}
    async with media_server(files) as cdn, aiohttp.ClientSession() as session:
        try:
            roles.start()

            async def apis_ready() -> bool:
                assert not roles.dead(), f"a role died\n{roles.logs()}"
                checks = [http_ok(session, f"{url}/readyz") for url in roles.api_urls]
                return all(await asyncio.gather(*checks))

            await until(apis_ready, "both APIs ready", roles, 60)
            api = Api(session, roles.api_urls, await create_key(database_url, "alice"))
            status, client = await api.call("POST", "/clients", json={"name": "ACME"})
            assert status == 201, client
            image = f"{cdn}/product.jpg"
            jobs = [await create_and_approve(api, roles, client["id"], image) for _ in range(JOBS)]

            # The stream and every consumer keep three copies.
            info = await stream_info(nats_cluster.url)
            assert info.config.num_replicas == 3
            async with jetstream(nats_cluster.url) as js:
                renderer = await js.consumer_info("ADPIPE", "renderer")
                assert renderer.config.num_replicas == 3

            # Fault 1: a renderer dies mid-render (progress was reported, its work folder exists).
            # A 6 s render takes a second or two here: poll often, and kill the busy renderer the
            # moment its work folder is seen (the log is asked only until progress shows).
            victims: list[RoleProcess] = []
            progress_seen = False

            async def killed_mid_render() -> bool:
                nonlocal progress_seen
                if not progress_seen:
                    progress = await asyncio.to_thread(
                        count_events, database_url, "job.render_progress"
                    )
                    progress_seen = progress > 0
                busy = [p for p in roles.of("service:renderer") if p.busy_rendering()]
                if not progress_seen or not busy:
                    return False
                busy[0].kill()
                victims.append(busy[0])
                return True

            await until(killed_mid_render, "a render under way", roles, 90, every=0.02)
            [victim] = victims
            # SIGKILL skips the cleanup: a work folder left behind proves it died mid-render.
            assert victim.busy_rendering(), "the renderer had finished before it was killed"

            # Fault 2: the NATS node leading the stream dies.
            leader = (await stream_info(nats_cluster.url)).cluster
            assert leader is not None and leader.leader
            lost_node = nats_cluster.node_named(leader.leader)
            lost_node.kill()

            # Work goes on without them: a job made after the faults completes too.
            jobs.append(await create_and_approve(api, roles, client["id"], image))

            async def all_completed() -> bool:
                statuses = [await api.job_status(job_id) for job_id in jobs]
                assert not {"failed", "cancelled"} & set(statuses), statuses
                return all(s == "completed" for s in statuses)

            await until(all_completed, "every job completed", roles, 150)

            # The log reached the read models and JetStream; then audit it at rest.
            async def caught_up() -> bool:
                head, checkpoints = await asyncio.to_thread(head_and_checkpoints, database_url)
                return bool(checkpoints) and all(p == head for p in checkpoints.values())

            await until(caught_up, "relay and projections at the head of the log", roles, 60)
            dead = [p.label for p in roles.dead() if p is not victim]
            assert not dead, f"roles died unasked: {dead}\n{roles.logs()}"
        finally:
            roles.stop()

    # Each job rendered exactly once, however often its render started.
    for job_id in jobs:
        types = [e.type for e in await core.store.read_stream(job_stream(job_id))]
        assert types.count("job.render_completed") == 1, (job_id, types)
    log = await core.store.read_all(0, 100_000)
    ids = [e.id for e in log]
    assert len(ids) == len(set(ids)), "an event id appears twice in the log"
    positions = [e.position for e in log]
    assert positions == sorted(set(positions)), "log positions do not strictly increase"

    # JetStream holds the log exactly: every event once, in log order, none lost at the leader.
    messages = await stream_envelopes(nats_cluster.url)
    assert [m.id for m in messages] == ids

    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "adpipe.cli", "replay", "verify"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The killed node comes back and catches up: three current copies again.
    lost_node.start()
    names = {node.server_name for node in nats_cluster.nodes}
    deadline = time.monotonic() + 60
    while current_peers(await stream_info(nats_cluster.url)) != names:
        assert time.monotonic() < deadline, "the restarted node did not rejoin within 60 s"
        await asyncio.sleep(0.2)
