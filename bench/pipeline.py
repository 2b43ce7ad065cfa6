"""One render end to end through `adpipe up` against the x264 encode floor, and the stack's memory
with renders queued and jobs in review.

    .venv/bin/python bench/pipeline.py [--runs 3] [--review-jobs 100] [--queued 8] [--no-memory]

1. The seed's 30 s Smart Watch ad at 720p (its product photo, call-to-action card and lifestyle
   clip served on 127.0.0.1, narration on, as a new user would make it), timed from
   `approve_storyboard` to `status: completed` as a client sees it: following the job's event
   stream (SSE) to `job.render_completed`, then reading the job until it says `completed`
   (`--poll`: polling GET /jobs/{id} every 20 ms instead, which costs the render ~2 CPU s).
   Then the finished MP4 is decoded into memory and its frames re-encoded by libx264 alone with
   the renderer's preset, CRF and threads: the encode floor, measured in the same run. Best of
   `--runs` for each (noise on a shared machine only ever adds time). The job's own events say
   where the rest went: approval to render_started (hand-offs), render_started to the first
   progress event, and so on.
2. Memory: `--review-jobs` jobs left in review and `--queued` approved at once; the resident set of
   every process in `adpipe up`'s tree (Postgres and nats-server included) is sampled every
   0.2 s until the renders are done. Printed: the peak of the sum of RSS (what the target is
   about; shared pages counted once per process, so an overestimate) and of PSS beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _render_fixtures import build_assets

from testkit.seed import seed_body

ROOT = Path(__file__).resolve().parent.parent
RSS_LIMIT_BYTES = 2 * 2**30


# ---- the stack and its client ------------------------------------------------------------------


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {key}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, f"{self.base}/api/v3{path}", json=body, headers=self.headers
        ) as response:
            data = await response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, (await response.json()) if "json" in kind else data


async def serve_media(folder: Path) -> tuple[web.AppRunner, str]:
    assets = build_assets(folder)
    files = {f"/{Path(a.path).name}": Path(a.path) for a in assets.values()}

    async def serve(request: web.Request) -> web.StreamResponse:
        path = files.get(request.path)
        if path is None:
            return web.Response(status=404)
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def seed_job(client_id: str, media: str, seconds: int = 30) -> dict[str, Any]:
    """The seed's example job (seed/v3-workflow.md): Smart Watch, 30 s, 16:9, 720p."""
    return seed_body(
        client_id,
        assets=[
            {"url": f"{media}/product.jpg", "type": "image", "name": "Product Hero"},
            {"url": f"{media}/lifestyle.mp4", "type": "video", "name": "Lifestyle Clip"},
            {"url": f"{media}/cta.png", "type": "image", "name": "Call to Action"},
        ],
        durationSeconds=seconds,
        aspectRatio="16:9",
        resolution="720p",
    )


async def wait_until(check: Any, within: float, every: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within} s")
        await asyncio.sleep(every)


async def in_review(api: Api, client_id: str, media: str, seconds: int = 30) -> str:
    status, job = await api.call("POST", "/jobs", seed_job(client_id, media, seconds))
    assert status in (201, 202), job
    job_id: str = job["id"]

    async def reviewable() -> bool:
        _, body = await api.call("GET", f"/jobs/{job_id}")
        narrating = any(
            (s.get("voiceover") or {}).get("status") == "pending" for s in body["scenes"]
        )
        return bool(body["status"] == "storyboard_review" and not narrating)

    await wait_until(reviewable, 300, 0.1)
    return job_id


async def approve_and_wait(api: Api, job_ids: list[str], every: float = 0.02) -> float:
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(api.call("POST", f"/jobs/{j}/actions", {"action": "approve_storyboard"}) for j in job_ids)
    )
    assert all(status == 200 for status, _ in answers), answers

    async def completed() -> bool:
        for job_id in job_ids:
            _, body = await api.call("GET", f"/jobs/{job_id}")
            if body["status"] == "failed":
                raise RuntimeError(f"job {job_id} failed: {body['error']}")
            if body["status"] != "completed":
                return False
        return True

    await wait_until(completed, 900, every)
    return time.perf_counter() - started


async def approve_and_follow(api: Api, job_id: str, every: float = 0.02) -> float:
    """Approve one job and wait as the studio does: on the job's live event stream (SSE), then
    a GET confirming `status: completed` (read again every `every` s until the read model says
    so). A 20 ms poll of GET /jobs/{id} for the whole render costs ~800 reads: about 2 CPU s of
    the API and Postgres on the same 2 cores the render needs, a fifth of the floor's own."""
    async with api.session.get(
        f"{api.base}/api/v3/jobs/{job_id}/events",
        headers={**api.headers, "Accept": "text/event-stream"},
    ) as stream:
        assert stream.status == 200, await stream.text()
        started = time.perf_counter()
        status, answer = await api.call(
            "POST", f"/jobs/{job_id}/actions", {"action": "approve_storyboard"}
        )
        assert status == 200, answer
        async for line in stream.content:
            kind = line.decode().strip().removeprefix("event:").strip()
            if kind in ("job.failed", "job.cancelled"):
                raise RuntimeError(f"job {job_id} ended with {kind}")
            if kind == "job.render_completed":
                break
        else:
            raise RuntimeError(f"the event stream of job {job_id} ended before the render did")

    async def completed() -> bool:
        _, body = await api.call("GET", f"/jobs/{job_id}")
        return bool(body["status"] == "completed")

    await wait_until(completed, 60, every)
    return time.perf_counter() - started


async def timeline(api: Api, job_id: str) -> dict[str, float]:
    """Seconds from the approval to each step, from the job's own events."""
    _, page = await api.call("GET", f"/jobs/{job_id}/history?pageSize=100")
    times: dict[str, datetime] = {}
    render_seconds = 0.0
    for event in page["items"]:
        kind = event["type"].removeprefix("job.")
        if kind == "render_progress":
            kind = "first progress"
        if kind == "render_completed":
            render_seconds = event["data"]["renderSeconds"]
        times.setdefault(kind, datetime.fromisoformat(event["recordedAt"]))
    approved = times["approved"]
    steps = {k: (t - approved).total_seconds() for k, t in times.items() if t >= approved}
    # renderSeconds runs from the call to the child (assets fetched) to its answer: what is left
    # before render_completed is the upload of the MP4 and the completion's append.
    steps["render_started + renderSeconds"] = steps["render_started"] + render_seconds
    return steps


# ---- the encode floor, in a fresh process --------------------------------------------------------


def floor_main(mp4: str) -> None:
    """Decode the finished MP4 into memory, then time x264 alone re-encoding those frames."""
    import av

    from adpipe.services.renderer.engine.encode import add_video_stream, open_output

    with av.open(mp4) as source:
        stream = source.streams.video[0]
        fps = round(float(stream.average_rate or 30))
        frames = [f.reformat(format="yuv420p") for f in source.decode(stream)]
    width, height = frames[0].width, frames[0].height
    out = Path(mp4).with_suffix(".floor.mp4")
    started, cpu = time.perf_counter(), time.process_time()
    output = open_output(out)
    video = add_video_stream(output, width, height, fps)
    for index, frame in enumerate(frames):
        frame.pts, frame.time_base = index, Fraction(1, fps)
        for packet in video.encode(frame):
            output.mux(packet)
    for packet in video.encode(None):
        output.mux(packet)
    output.close()
    print(f"{time.perf_counter() - started:.4f} {len(frames)} {time.process_time() - cpu:.4f}")


def encode_floor(mp4: Path) -> tuple[float, int, float]:
    """(wall seconds, frames, CPU seconds) of the floor's encode."""
    done = subprocess.run(
        [sys.executable, __file__, "--floor", str(mp4)], capture_output=True, text=True, check=True
    )
    seconds, frames, cpu = done.stdout.split()
    return float(seconds), int(frames), float(cpu)


# ---- memory of the process tree ----------------------------------------------------------------


def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kind(pid: int) -> str:
    """What a process is, for the breakdown: postgres, nats-server, sandbox child, or its role."""
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    name = Path(words[0]).name if words else "?"
    if name.startswith("postgres"):
        return "postgres"
    if "adpipe.sandbox" in words:
        return "render children"
    if "adpipe" in words and words.index("adpipe") + 1 < len(words):
        return "python: " + " ".join(words[words.index("adpipe") + 1 :][:2]).split(" --")[0]
    return "python: up" if "up" in words else name


def cpu_times(roots: list[int]) -> dict[str, float]:
    """CPU seconds per kind of process under `roots`, children already reaped included (a
    finished render child's time moves to its parent's cutime/cstime when it is waited for)."""
    tick = os.sysconf("SC_CLK_TCK")
    kinds: dict[str, float] = {}
    for pid in (p for root in roots for p in tree(root)):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        own = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        reaped = (int(fields[13]) + int(fields[14])) / tick  # cutime, cstime
        kind = _kind(pid)
        kinds[kind] = kinds.get(kind, 0.0) + own
        if reaped:
            kinds["reaped children"] = kinds.get("reaped children", 0.0) + reaped
    return kinds


def memory(roots: list[int]) -> tuple[int, int, int, dict[str, tuple[int, int, int]]]:
    """(sum of RSS, sum of PSS, processes, {kind: (RSS, PSS, processes)}) over the trees under
    `roots`."""
    rss = pss = count = 0
    kinds: dict[str, tuple[int, int, int]] = {}
    for pid in (p for root in roots for p in tree(root)):
        one_rss = one_pss = 0
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Rss:"):
                        one_rss = int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        one_pss = int(line.split()[1]) * 1024
        except OSError:
            continue  # gone meanwhile, or a kernel thread
        rss, pss, count = rss + one_rss, pss + one_pss, count + 1
        kind = _kind(pid)
        before = kinds.get(kind, (0, 0, 0))
        kinds[kind] = (before[0] + one_rss, before[1] + one_pss, before[2] + 1)
    return rss, pss, count, kinds


# ---- the run ----------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    from adpipe.api.keys import create_key
    from adpipe.runtime.ports import free_port
    from adpipe.runtime.postgres import SUPERUSER
    from adpipe.runtime.stack import DATABASE
    from adpipe.services.renderer.engine.encode import ENCODER_THREADS, VIDEO_CRF, VIDEO_PRESET

    home = Path(tempfile.mkdtemp(prefix="adpipe-pipeline-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ADPIPE_HOME": str(home),
        "ADPIPE_ALLOW_PRIVATE_URLS": "1",
        "ADPIPE_REQUESTS_PER_SECOND_PER_USER": "1000000",
        "ADPIPE_MAX_ACTIVE_JOBS_PER_USER": "100000",
    }
    log = (home / "up.log").open("ab")
    up = subprocess.Popen(  # noqa: ASYNC220 - once, before anything runs
        [sys.executable, "-m", "adpipe.cli", "up", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    media_runner, media = await serve_media(home)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
    try:

        async def ready() -> bool:
            try:
                async with session.get(f"{base}/readyz") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(ready, 120, 0.2)
        # pg_ctl starts Postgres detached from `adpipe up`: its postmaster (and every backend
        # under it) is counted through its pid file.
        pg_port = (home / "postgres" / "port").read_text().strip()
        database_url = f"postgresql://{SUPERUSER}@127.0.0.1:{pg_port}/{DATABASE}"
        api = Api(session, base, await create_key(database_url, "bench"))
        status, client = await api.call("POST", "/clients", {"name": "Bench"})
        assert status == 201, client
        client_id = client["id"]
        print(
            f"adpipe pipeline benchmark ({len(os.sched_getaffinity(0))} CPUs, load "
            f"{os.getloadavg()[0]:.1f}); x264 {VIDEO_PRESET} CRF {VIDEO_CRF}, "
            f"{ENCODER_THREADS} threads"
        )

        # -- one render, end to end ---------------------------------------------------------------
        await approve_and_wait(api, [await in_review(api, client_id, media, 6)])  # warm up
        ends: list[float] = []
        floors: list[float] = []
        steps: list[dict[str, float]] = []
        cpus: list[dict[str, float]] = []
        (pid_file,) = home.glob("postgres/**/postmaster.pid")
        roots = [up.pid, int(pid_file.read_text().split()[0])]
        for run in range(args.runs):
            job_id = await in_review(api, client_id, media)
            before = cpu_times(roots)
            if args.poll:
                took = await approve_and_wait(api, [job_id])
            else:
                took = await approve_and_follow(api, job_id)
            after = cpu_times(roots)
            cpus.append({k: after[k] - before.get(k, 0.0) for k in after})
            _, video = await api.call("GET", f"/jobs/{job_id}/video")
            mp4 = home / f"run-{run}.mp4"
            mp4.write_bytes(video)
            floor, frames, floor_cpu = await asyncio.to_thread(encode_floor, mp4)
            ends.append(took)
            floors.append(floor)
            steps.append(await timeline(api, job_id))
            print(
                f"  run {run + 1}: approve->completed {took:.2f} s, floor {floor:.2f} s "
                f"({frames} frames), {took / floor:.2f}x; CPU {sum(cpus[-1].values()):.2f} s "
                f"against the floor's {floor_cpu:.2f} s",
                flush=True,
            )
        if ends:  # --runs 0: memory only
            best = min(range(len(ends)), key=lambda i: ends[i])
            print("\none render end to end (seed's 30 s ad, 720p, narrated), best of", args.runs)
            print(f"{'approve -> completed s':<34}{min(ends):>10.2f}")
            print(f"{'encode floor s (x264 alone)':<34}{min(floors):>10.2f}")
            print(f"{'ratio (end to end / floor)':<34}{min(ends) / min(floors):>10.2f}")
            ratios = [e / f for e, f in zip(ends, floors, strict=True)]
            print(f"{'median ratio of the runs':<34}{statistics.median(ratios):>10.2f}")
            print("  where the fastest run's time went (event recorded, s after approval):")
            for kind, at in sorted(steps[best].items(), key=lambda kv: kv[1]):
                print(f"    {kind:<30}{at:>8.3f}")
            print("  CPU s spent meanwhile by `adpipe up`'s processes in that run (2 cores):")
            for kind, spent in sorted(cpus[best].items(), key=lambda kv: -kv[1]):
                if spent >= 0.005:
                    print(f"    {kind:<30}{spent:>8.2f}")

        # -- memory with renders queued and jobs in review ----------------------------------------
        if args.memory:
            jobs = []
            wanted = args.review_jobs + args.queued + 1  # + 1 rendered alone first
            for start in range(0, wanted, 10):
                batch = min(10, wanted - start)
                jobs += await asyncio.gather(
                    *(in_review(api, client_id, media, 6) for _ in range(batch))
                )
            idle = memory(roots)
            highest = [idle]  # the sample with the largest RSS sum
            stop = asyncio.Event()

            async def sample() -> None:
                while not stop.is_set():
                    now = await asyncio.to_thread(memory, roots)
                    if now[0] > highest[0][0]:
                        highest[0] = now
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            # Render throughput, as bench/load.py measures it: one 6 s job alone, then the
            # queued ones at once (they wait their turn beyond ADPIPE_RENDER_CONCURRENCY).
            alone = await approve_and_wait(api, jobs[:1], every=0.05)
            took = await approve_and_wait(api, jobs[1 : 1 + args.queued], every=0.2)
            stop.set()
            await sampler
            peak = highest[0]
            single, many = 6 / alone, 6 * args.queued / took
            print("\nrenders (6 s, 720p each), from approve to completed, video s per s")
            print(f"{'1 job alone':<34}{single:>10.2f}")
            print(f"{f'{args.queued} jobs at once':<34}{many:>10.2f}")
            print(f"{'ratio':<34}{many / single:>10.2f}")
            gib = 2**30
            print(
                f"\nmemory of `adpipe up` ({peak[2]} processes), {args.review_jobs} jobs in "
                f"review, {args.queued} approved at once (rendered in {took:.1f} s)"
            )
            print(f"{'RSS sum before approval GiB':<34}{idle[0] / gib:>10.2f}")
            print(f"{'peak RSS sum GiB':<34}{peak[0] / gib:>10.2f}")
            print(f"{'PSS sum at that peak GiB':<34}{peak[1] / gib:>10.2f}")
            print(f"{'peak / 2 GiB target':<34}{peak[0] / RSS_LIMIT_BYTES:>10.2f}")
            print(f"{'peak PSS / 2 GiB target':<34}{peak[1] / RSS_LIMIT_BYTES:>10.2f}")
            print("  at the peak, by process (RSS / PSS MiB, processes; a backend's RSS counts")
            print("  the shared buffers it touched, so Postgres' RSS sum counts them once each):")
            for kind, (one_rss, one_pss, n) in sorted(peak[3].items(), key=lambda kv: -kv[1][0]):
                print(f"    {kind:<30}{one_rss / 2**20:>8.0f}{one_pss / 2**20:>8.0f}{n:>6}")
    finally:
        await session.close()
        await media_runner.cleanup()
        up.send_signal(signal.SIGTERM)
        await asyncio.to_thread(up.wait, 90)
        log.close()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--floor":
        floor_main(sys.argv[2])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--runs", type=int, default=3, help="end-to-end renders (best of)")
        parser.add_argument("--review-jobs", type=int, default=100)
        parser.add_argument("--queued", type=int, default=8)
        parser.add_argument("--no-memory", dest="memory", action="store_false")
        parser.add_argument(
            "--poll",
            action="store_true",
            help="wait for each end-to-end render by polling GET /jobs/{id} every 20 ms, as "
            "this benchmark used to, instead of following the job's event stream",
        )
        asyncio.run(main(parser.parse_args()))
