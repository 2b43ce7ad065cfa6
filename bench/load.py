"""Load benchmark against `adpipe up`: reads per second beside a litestar hello-world, then 100 job
creates from 10 users at once, storyboards per minute, and render throughput for 1 and 8 jobs.

    .venv/bin/python bench/load.py [--seconds 3] [--rounds 3] [--no-render | --reads-only]

Starts `adpipe up` on a temp ADPIPE_HOME (its own Postgres and NATS), serves one PNG on
127.0.0.1 for the jobs' URL assets (ADPIPE_ALLOW_PRIVATE_URLS=1), and drives HTTP from a separate
load-generator process (aiohttp), so the client does not take the server's event loop. The
per-user request rate (ADPIPE_REQUESTS_PER_SECOND_PER_USER) is raised for the run: the read
clients are one user sending thousands of requests a second, which the limiter would refuse.
The hello-world app runs under the same uvicorn settings as `adpipe api`, and both are measured
alternately in the same run, `--rounds` times each; medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
USERS, JOBS_PER_USER, READ_CLIENTS = 10, 10, 16


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---- the hello-world baseline ------------------------------------------------------------------


def hello_main(port: int) -> None:
    import uvicorn
    from litestar import Litestar, get

    @get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    app = Litestar(route_handlers=[hello], logging_config=None, debug=False)
    uvicorn.run(
        app, host="127.0.0.1", port=port, access_log=False, log_config=None, server_header=False
    )


# ---- the load generator (its own process) ------------------------------------------------------


async def _read_load(url: str, key: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - start
    return {
        "rps": len(latencies) / wall,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "errors": errors,
    }


def load_main(url: str, key: str, clients: int, seconds: float) -> None:
    print(json.dumps(asyncio.run(_read_load(url, key, clients, seconds))))


async def _creates(base: str, plan: list[dict[str, Any]]) -> dict[str, Any]:
    """Every job in `plan` ({key, body}) created at once; latencies, the job ids, and whether
    each job was readable by its user right after its create answered (read-your-writes)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def create(item: dict[str, Any]) -> tuple[float, float, int, str, int]:
            headers = {"Authorization": f"Bearer {item['key']}"}
            begun = time.perf_counter()
            async with session.post(
                f"{base}/api/v3/jobs",
                json=item["body"],
                headers={**headers, "Prefer": "respond-async"},
            ) as response:
                body = await response.json(content_type=None)
                status, job_id = response.status, body.get("id", "")
            answered = time.perf_counter()
            async with session.get(f"{base}/api/v3/jobs/{job_id}", headers=headers) as read:
                read_status = read.status
            return answered - begun, answered, status, job_id, read_status

        start = time.perf_counter()
        results = await asyncio.gather(*(create(i) for i in plan))
    return {
        "latencies": [r[0] for r in results],
        "statuses": [r[2] for r in results],
        "ids": [r[3] for r in results],
        "read_statuses": [r[4] for r in results],
        # Until the last create answered: the read-backs after it are not creates.
        "wall": max(r[1] for r in results) - start,
    }


def creates_main(base: str, plan_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text())
    print(json.dumps(asyncio.run(_creates(base, plan))))


def run_child(*args: str) -> Any:
    """Runs this script as a load-generator process; answers the JSON it prints."""
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the run ------------------------------------------------------------------------------------


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1280, 720), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


async def serve_asset() -> tuple[web.AppRunner, str]:
    data = png_bytes()

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type="image/png")

    app = web.Application()
    app.router.add_get("/product.png", image)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/product.png"


def job_body(client_id: str, image_url: str) -> dict[str, Any]:
    return {
        "context": {"clientId": client_id},
        "adBasics": {
            "product": "Smart Watch",
            "targetAudience": "runners",
            "keyMessage": "Know your pace",
            "callToAction": "Buy now",
        },
        "creative": {
            "direction": {"style": "energetic", "tone": "upbeat"},
            "assets": [{"url": image_url, "type": "image"}],
            "durationSeconds": 6,
            "aspectRatio": "16:9",
            "resolution": "720p",
        },
    }


async def wait_until(check: Any, within: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within} s")
        await asyncio.sleep(every)


async def statuses(session: aiohttp.ClientSession, base: str, key: str) -> dict[str, str]:
    found: dict[str, str] = {}
    page = 1
    while True:
        async with session.get(
            f"{base}/api/v3/jobs?page={page}&pageSize=100",
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            body = await response.json()
        found.update({j["id"]: j["status"] for j in body["items"]})
        if page * 100 >= body["total"]:
            return found
        page += 1


def start_servers(
    env: dict[str, str], log: Any, port: int, hello_port: int
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    up = subprocess.Popen(
        [sys.executable, "-m", "adpipe.cli", "up", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    hello = subprocess.Popen(
        [sys.executable, __file__, "--hello", str(hello_port)], stdout=log, stderr=log, cwd=ROOT
    )
    return up, hello


async def main(args: argparse.Namespace) -> None:
    from adpipe.runtime.ports import free_port

    home = Path(tempfile.mkdtemp(prefix="adpipe-load-"))
    port, hello_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ADPIPE_HOME": str(home),
        "ADPIPE_ALLOW_PRIVATE_URLS": "1",
        "ADPIPE_REQUESTS_PER_SECOND_PER_USER": "1000000",
        "ADPIPE_MAX_ACTIVE_JOBS_PER_USER": str(JOBS_PER_USER * 4),
    }
    log = (home / "up.log").open("ab")
    up, hello = await asyncio.to_thread(start_servers, env, log, port, hello_port)
    asset_server, image_url = await serve_asset()
    session = aiohttp.ClientSession()
    try:

        async def ready() -> bool:
            try:
                async with (
                    session.get(f"{base}/readyz") as r1,
                    session.get(f"http://127.0.0.1:{hello_port}/hello") as r2,
                ):
                    return r1.status == 200 and r2.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(ready, 120, 0.2)
        # `adpipe keys create` beside `up` would need the stack file `up` does not write on
        # this branch; the keys go straight into up's Postgres instead, as that command does.
        from adpipe.api.keys import create_key
        from adpipe.runtime.postgres import SUPERUSER
        from adpipe.runtime.stack import DATABASE

        pg_port = (home / "postgres" / "port").read_text().strip()
        database_url = f"postgresql://{SUPERUSER}@127.0.0.1:{pg_port}/{DATABASE}"
        keys = [await create_key(database_url, f"load-user-{n}") for n in range(USERS)]
        clients = []
        for key in keys:
            async with session.post(
                f"{base}/api/v3/clients",
                json={"name": "Load"},
                headers={"Authorization": f"Bearer {key}"},
            ) as response:
                assert response.status == 201, await response.text()
                clients.append((await response.json())["id"])
        print(f"adpipe load benchmark ({os.cpu_count()} cores), `adpipe up` on {home}")

        # -- reads ----------------------------------------------------------------------------
        await read_runs(session, base, hello_port, keys[0], clients[0], image_url, args)
        if args.reads_only:
            return

        # -- creates --------------------------------------------------------------------------
        plan = [
            {"key": keys[u], "body": job_body(clients[u], image_url)}
            for _ in range(JOBS_PER_USER)
            for u in range(USERS)
        ]
        plan_file = home / "plan.json"
        plan_file.write_text(json.dumps(plan))
        started = time.monotonic()
        made = await asyncio.to_thread(run_child, "--creates", base, str(plan_file))
        bad = [s for s in made["statuses"] if s != 202]
        assert not bad, f"creates answered {bad}"
        lat = made["latencies"]
        print(f"\n{len(plan)} concurrent POST /jobs (respond-async) from {USERS} users")
        p50, p99 = pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000
        print(f"{'create latency p50 / p99 ms':<34}{p50:>10.0f}{p99:>10.0f}")
        print(f"{'creates per second':<34}{len(plan) / made['wall']:>10.0f}")
        # Read-your-writes: each created job was readable by its user the moment its answer came.
        # A 404 breaks read-your-writes; anything else (a 503 from an overloaded pool) is shown.
        unreadable = [s for s in made["read_statuses"] if s != 200]
        print(f"{'read back right after: not 200':<34}{len(unreadable):>10}  {sorted(unreadable)}")
        assert 404 not in unreadable, "read-your-writes broken: a created job answered 404"
        ids = made["ids"]

        async def storyboards() -> bool:
            states: dict[str, str] = {}
            for key in keys:
                states.update(await statuses(session, base, key))
            return all(states.get(i) not in (None, "pending") for i in ids)

        await wait_until(storyboards, 300, 0.2)
        ready_after = time.monotonic() - started
        print(f"{'all storyboards ready after s':<34}{ready_after:>10.1f}")
        print(f"{'storyboards per minute':<34}{len(ids) / ready_after * 60:>10.0f}")

        if args.render:
            await render_runs(session, base, keys, ids)
    finally:
        await session.close()
        await asset_server.cleanup()
        hello.send_signal(signal.SIGTERM)
        up.send_signal(signal.SIGTERM)
        await asyncio.to_thread(hello.wait, 30)
        await asyncio.to_thread(up.wait, 90)
        log.close()


async def read_runs(
    session: aiohttp.ClientSession,
    base: str,
    hello_port: int,
    key: str,
    client_id: str,
    image_url: str,
    args: argparse.Namespace,
) -> None:
    """GET /jobs/{id} against the hello-world, alternating, `--rounds` times each (medians);
    then one run of each other single-resource read against the same hello-world median."""
    headers = {"Authorization": f"Bearer {key}"}
    async with session.post(
        f"{base}/api/v3/jobs", json=job_body(client_id, image_url), headers=headers
    ) as response:
        assert response.status in (201, 202), await response.text()
        job = await response.json()
    async with session.post(
        f"{base}/api/v3/campaigns",
        json={"clientId": client_id, "name": "Launch"},
        headers=headers,
    ) as response:
        assert response.status == 201, await response.text()
        campaign_id = (await response.json())["id"]
    read_job, asset_id = job["id"], job["creative"]["assets"][0]["id"]
    ours_url, hello_url = (
        f"{base}/api/v3/jobs/{read_job}",
        f"http://127.0.0.1:{hello_port}/hello",
    )
    seconds, clients_n = str(args.seconds), str(READ_CLIENTS)
    run_child("--load", ours_url, key, clients_n, "1")  # warm both up
    run_child("--load", hello_url, "", clients_n, "1")
    ours, base_line = [], []
    for _ in range(args.rounds):
        base_line.append(run_child("--load", hello_url, "", clients_n, seconds))
        ours.append(run_child("--load", ours_url, key, clients_n, seconds))
    others = {
        f"GET /api/v3/{path}": run_child("--load", f"{base}/api/v3/{path}", key, clients_n, seconds)
        for path in (
            f"clients/{client_id}",
            f"campaigns/{campaign_id}",
            f"assets/{asset_id}",
            f"jobs/{read_job}/scenes",
        )
    }
    assert all(r["errors"] == 0 for r in ours + base_line + list(others.values())), (
        ours + base_line + list(others.values())
    )

    def med(runs: list[dict[str, float]], field: str) -> float:
        return statistics.median(r[field] for r in runs)

    hello_rps = med(base_line, "rps")
    print(f"\nreads, {READ_CLIENTS} concurrent clients, median of {args.rounds} alternating runs")
    print(f"{'':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'ratio':>8}")
    rows = [("litestar hello-world", base_line), ("GET /api/v3/jobs/{id}", ours)]
    rows += [(label.replace(read_job, "{id}"), [run]) for label, run in others.items()]
    for label, runs in rows:
        label = label.replace(client_id, "{id}").replace(campaign_id, "{id}")
        label = label.replace(asset_id, "{id}")
        print(
            f"{label:<34}{med(runs, 'rps'):>10,.0f}{med(runs, 'p50_ms'):>10.1f}"
            f"{med(runs, 'p99_ms'):>10.1f}{med(runs, 'rps') / hello_rps:>8.2f}"
        )
    print(f"{'ratio (jobs/{id} / hello-world)':<34}{med(ours, 'rps') / hello_rps:>10.2f}")


async def render_runs(
    session: aiohttp.ClientSession, base: str, keys: list[str], ids: list[str]
) -> None:
    """Approve 1 job, then 8 at once; seconds of video delivered per second of wall time."""
    owner = {}
    for key in keys:
        for job_id in await statuses(session, base, key):
            owner[job_id] = key
    ready = [i for i in ids if owner.get(i)]

    async def approve_and_wait(batch: list[str]) -> float:
        start = time.monotonic()

        async def approve(job_id: str) -> None:
            async with session.post(
                f"{base}/api/v3/jobs/{job_id}/actions",
                json={"action": "approve_storyboard"},
                headers={"Authorization": f"Bearer {owner[job_id]}"},
            ) as response:
                assert response.status == 200, await response.text()

        await asyncio.gather(*(approve(i) for i in batch))

        async def completed() -> bool:
            for job_id in batch:
                async with session.get(
                    f"{base}/api/v3/jobs/{job_id}",
                    headers={"Authorization": f"Bearer {owner[job_id]}"},
                ) as response:
                    status = (await response.json())["status"]
                if status == "failed":
                    raise RuntimeError(f"job {job_id} failed")
                if status != "completed":
                    return False
            return True

        await wait_until(completed, 600, 0.1)
        return time.monotonic() - start

    one = approve_and_wait(ready[:1])
    single = 6.0 / await one
    eight = 8 * 6.0 / await approve_and_wait(ready[1:9])
    print("\nrenders (6 s, 720p each), from approve to completed")
    print(f"{'1 job: video s per s':<34}{single:>10.2f}")
    print(f"{'8 jobs at once: video s per s':<34}{eight:>10.2f}")
    print(f"{'ratio (8 / 1)':<34}{eight / single:>10.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--hello":
        hello_main(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--creates":
        creates_main(sys.argv[2], sys.argv[3])
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--seconds", type=float, default=3.0, help="per read run")
        parser.add_argument("--rounds", type=int, default=3, help="alternating read runs")
        parser.add_argument("--no-render", dest="render", action="store_false")
        parser.add_argument(
            "--reads-only", action="store_true", help="only the reads against the hello-world"
        )
        asyncio.run(main(parser.parse_args()))
