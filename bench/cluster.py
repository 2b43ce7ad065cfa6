"""Cluster benchmark: adpipe as separate processes on a 3-node JetStream cluster (replicas 3).

    .venv/bin/python bench/cluster.py [--jobs N] [--quick]

Prints, on this machine:
  - jobs per minute through the storyboard (created -> storyboard_review) and through the render
    (approved -> completed, 6 s at 720p), with 1 and then 2 replicas of every service; the
    1-replica run is the baseline of the ratio;
  - the longest API outage (a non-2xx answer or a failed connection, on a tight loop of
    `GET /readyz` and `GET /jobs/{id}`) while the NATS node leading the stream is SIGKILLed, and how
    long the storyboard of a job created right after the kill takes against one created before;
  - the restart time of a killed role: a SIGKILLed planner's replacement process, from its start
    until it is fetching from its consumer again, and until it has planned a job that waited.
Everything runs on 127.0.0.1 in a temp folder (durable Postgres, as in production) and is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import aiohttp

from adpipe.api.keys import create_key
from adpipe.runtime.nats import EmbeddedNatsCluster
from adpipe.runtime.postgres import EmbeddedPostgres
from adpipe.runtime.roles import SERVICES
from adpipe.storage.migrations import apply_migrations
from testkit.cluster import (
    RoleSet,
    current_peers,
    http_ok,
    jetstream,
    media_server,
    stream_info,
    wait_for_jetstream,
)
from testkit.media import jpeg_bytes
from testkit.seed import job_body

ROLES = ["api", "relay", "projector"]


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float) -> float:
    """Polls `check` every 50 ms; answers the seconds it took, or fails naming what never came."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            raise TimeoutError(f"{what}: not within {within:g} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        self.session, self.base, self.headers = session, base, {"Authorization": f"Bearer {key}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.session.request(
            method, f"{self.base}/api/v3{path}", headers=headers, **kwargs
        ) as response:
            return response.status, await response.json(content_type=None)

    async def statuses(self, job_ids: list[str]) -> list[str]:
        answers = await asyncio.gather(*(self.call("GET", f"/jobs/{j}") for j in job_ids))
        return [str(body.get("status")) if code == 200 else "?" for code, body in answers]

    async def create_jobs(self, client_id: str, image: str, count: int) -> list[str]:
        """Created at once: `Prefer: respond-async` answers 202 without waiting for the planner."""
        body = job_body(client_id, image)
        answers = await asyncio.gather(
            *(
                self.call("POST", "/jobs", json=body, headers={"Prefer": "respond-async"})
                for _ in range(count)
            )
        )
        for code, job in answers:
            assert code in (201, 202), job
        return [str(job["id"]) for _, job in answers]

    async def all_reach(self, job_ids: list[str], status: str, within: float) -> float:
        async def reached() -> bool:
            statuses = await self.statuses(job_ids)
            assert "failed" not in statuses, statuses
            return all(s == status for s in statuses)

        return await until(reached, f"{len(job_ids)} jobs {status}", within)


async def start_roles(
    folder: Path, env: dict[str, str], replicas: int, session: aiohttp.ClientSession
) -> RoleSet:
    roles = RoleSet(folder, env)
    for role in ROLES:
        roles.add(role)
    for name in SERVICES:
        roles.add(f"service:{name}", replicas)
    roles.start()
    [base] = roles.api_urls

    async def ready() -> bool:
        assert not roles.dead(), roles.logs()
        return await http_ok(session, f"{base}/readyz")

    await until(ready, "the API ready", 90)
    return roles


async def throughput(api: Api, client_id: str, image: str, jobs: int) -> tuple[float, float]:
    """Jobs per minute: created -> storyboard_review, then approved -> completed."""
    start = time.monotonic()
    job_ids = await api.create_jobs(client_id, image, jobs)
    await api.all_reach(job_ids, "storyboard_review", 300)
    planned = time.monotonic() - start
    start = time.monotonic()
    answers = await asyncio.gather(
        *(
            api.call("POST", f"/jobs/{j}/actions", json={"action": "approve_storyboard"})
            for j in job_ids
        )
    )
    assert all(code == 200 for code, _ in answers), answers
    await api.all_reach(job_ids, "completed", 600)
    rendered = time.monotonic() - start
    return jobs * 60 / planned, jobs * 60 / rendered


async def outage_during_leader_kill(
    api: Api, cluster: EmbeddedNatsCluster, client_id: str, image: str
) -> dict[str, float]:
    """The longest failure streak per endpoint while the stream leader's node is SIGKILLed."""
    [probe_job] = await api.create_jobs(client_id, image, 1)
    await api.all_reach([probe_job], "storyboard_review", 60)
    before = await storyboard_seconds(api, client_id, image)
    paths = {"/readyz": f"{api.base}/readyz", "/jobs/{id}": f"{api.base}/api/v3/jobs/{probe_job}"}
    longest = dict.fromkeys(paths, 0.0)
    failing_since: dict[str, float | None] = dict.fromkeys(paths)
    stop = asyncio.Event()

    async def hammer(name: str, url: str) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        while not stop.is_set():
            sent = time.monotonic()
            try:
                async with api.session.get(url, headers=api.headers, timeout=timeout) as answer:
                    ok = 200 <= answer.status < 300
                    await answer.read()
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            since = failing_since[name]
            if not ok and since is None:
                failing_since[name] = sent
            elif ok and since is not None:
                longest[name] = max(longest[name], time.monotonic() - since)
                failing_since[name] = None
            await asyncio.sleep(0.02)

    loops = [asyncio.create_task(hammer(name, url)) for name, url in paths.items()]
    try:
        await asyncio.sleep(1.0)  # a baseline stretch of answers before the kill
        info = await stream_info(cluster.url)
        assert info.cluster is not None and info.cluster.leader
        node = cluster.node_named(info.cluster.leader)
        node.kill()
        after = await storyboard_seconds(api, client_id, image)
        await asyncio.sleep(5.0)  # keep probing past the election
    finally:
        stop.set()
        await asyncio.gather(*loops)
    for name, since in failing_since.items():
        if since is not None:  # still failing at the end: count it to the end
            longest[name] = max(longest[name], time.monotonic() - since)
    node.start()
    names = {n.server_name for n in cluster.nodes}

    async def rejoined() -> bool:
        try:
            return current_peers(await stream_info(cluster.url)) == names
        except Exception:
            return False

    rejoin = await until(rejoined, "the killed node current again", 120)
    return {**longest, "storyboard before": before, "storyboard after": after, "rejoin": rejoin}


async def storyboard_seconds(api: Api, client_id: str, image: str) -> float:
    start = time.monotonic()
    [job] = await api.create_jobs(client_id, image, 1)
    await api.all_reach([job], "storyboard_review", 120)
    return time.monotonic() - start


async def planner_restart(
    roles: RoleSet, api: Api, cluster: EmbeddedNatsCluster, client_id: str, image: str
) -> tuple[float, float]:
    """A lone planner SIGKILLed, a job made while none runs, then a replacement started: seconds
    from its start until it is fetching (the consumer sees its pull request), and until it has
    planned the job that waited."""
    [planner] = roles.of("service:planner")
    planner.kill()
    async with jetstream(cluster.url) as js:

        async def waiting() -> int:
            return int((await js.consumer_info("ADPIPE", "planner")).num_waiting or 0)

        async def nobody_fetching() -> bool:
            return await waiting() == 0

        async def replacement_fetching() -> bool:
            return await waiting() > 0

        # The dead process's last pull request expires within its 1 s fetch timeout.
        await until(nobody_fetching, "the dead planner's pull requests expired", 30)
        [job] = await api.create_jobs(client_id, image, 1)
        restarted = time.monotonic()
        planner.start()
        await until(replacement_fetching, "the replacement fetching", 60)
        fetching = time.monotonic() - restarted
    await api.all_reach([job], "storyboard_review", 60)
    return fetching, time.monotonic() - restarted


async def main(jobs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="adpipe-bench-cluster-"))
    folder.chmod(0o755)  # as root, Postgres runs as another user that must reach its folder
    postgres = EmbeddedPostgres(folder / "pg")
    cluster = EmbeddedNatsCluster(folder / "nats")
    roles: RoleSet | None = None
    try:
        database_url = postgres.start()
        await apply_migrations(database_url)
        cluster.start()
        await wait_for_jetstream(cluster.url)
        env = {
            "DATABASE_URL": database_url,
            "NATS_URL": cluster.url,
            "ADPIPE_STREAM_REPLICAS": "3",
            "ADPIPE_ALLOW_PRIVATE_URLS": "1",  # the asset server is on 127.0.0.1
        }
        files = {"/product.jpg": (jpeg_bytes((200, 30, 30)), "image/jpeg")}
        key = await create_key(database_url, "bench")
        print(f"adpipe cluster benchmark ({os.cpu_count()} cores): 3 NATS nodes, stream replicas 3")
        print(f"services: {', '.join(SERVICES)}; {jobs} jobs of 6 s at 720p per run")
        rates: dict[int, tuple[float, float]] = {}
        async with media_server(files) as cdn, aiohttp.ClientSession() as session:
            image = f"{cdn}/product.jpg"
            for replicas in (1, 2):
                roles = await start_roles(folder / f"roles-{replicas}", env, replicas, session)
                api = Api(session, roles.api_urls[0], key)
                code, client = await api.call("POST", "/clients", json={"name": "Bench"})
                assert code == 201, client
                rates[replicas] = await throughput(api, client["id"], image, jobs)
                if replicas == 2:
                    outage = await outage_during_leader_kill(api, cluster, client["id"], image)
                roles.stop()
            # The restart time, on a quiet stack with a single planner.
            roles = await start_roles(folder / "roles-restart", env, 1, session)
            api = Api(session, roles.api_urls[0], key)
            code, client = await api.call("POST", "/clients", json={"name": "Restart"})
            fetching, planned = await planner_restart(roles, api, cluster, client["id"], image)
            roles.stop()
        base_plan, base_render = rates[1]
        print(f"\n{'jobs per minute':<34}{'1 replica':>12}{'2 replicas':>12}{'ratio':>8}")
        for label, index, base in (
            ("through storyboard", 0, base_plan),
            ("through render", 1, base_render),
        ):
            two = rates[2][index]
            print(f"{label:<34}{base:>12.1f}{two:>12.1f}{two / base:>8.2f}")
        print("\nNATS stream leader SIGKILLed (2 replicas of every service running)")
        print(f"{'longest outage GET /readyz':<44}{outage['/readyz']:>8.2f} s")
        print(f"{'longest outage GET /jobs/{id}':<44}{outage['/jobs/{id}']:>8.2f} s")
        print(f"{'storyboard of a job, before the kill':<44}{outage['storyboard before']:>8.2f} s")
        print(
            f"{'storyboard of a job made right after it':<44}{outage['storyboard after']:>8.2f} s"
        )
        print(f"{'killed node restarted -> current again':<44}{outage['rejoin']:>8.2f} s")
        print("\nplanner SIGKILLed; a replacement process started")
        print(f"{'start -> fetching from its consumer':<44}{fetching:>8.2f} s")
        print(f"{'start -> the job that waited is planned':<44}{planned:>8.2f} s")
    finally:
        if roles is not None:
            roles.stop()
        cluster.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=8, help="jobs per throughput run")
    parser.add_argument("--quick", action="store_true", help="4 jobs per run")
    args = parser.parse_args()
    asyncio.run(main(4 if args.quick else args.jobs))
