"""adpipe as a cluster on one machine, for the fault test and `bench/cluster.py`: a 3-node JetStream
cluster on loopback and every role as its own `adpipe …` OS process, each replica with its own log
and its own temp folder (a renderer at work leaves an `adpipe-render-*` folder there, which is how
a test tells a busy renderer from an idle one without asking it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats
import psycopg
from aiohttp import web
from nats.js.api import StreamInfo

from adpipe.events.catalogue import Envelope, decode_envelope
from adpipe.runtime.ports import free_port
from adpipe.runtime.roles import SERVICES
from testkit.loopback import serve_app

ROOT = Path(__file__).resolve().parents[2]
STREAM = "ADPIPE"


def role_names() -> list[str]:
    """Every role `adpipe` can run, services as `service:<name>` — from the registry itself."""
    return ["api", "relay", "projector", *(f"service:{name}" for name in SERVICES)]


def role_argv(role: str, port: int | None = None) -> list[str]:
    """The `adpipe` command line of a role, as `python -m adpipe.cli …`."""
    if role.startswith("service:"):
        return ["service", role.removeprefix("service:")]
    if role == "api":
        return ["api", "--port", str(port)] if port is not None else ["api"]
    return [role]


@dataclass
class RoleProcess:
    """One replica of one role, as an OS process that can be killed and started again."""

    role: str
    replica: int
    env: dict[str, str]
    folder: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def label(self) -> str:
        return f"{self.role.replace(':', '-')}-{self.replica}"

    @property
    def log(self) -> Path:
        return self.folder / "role.log"

    @property
    def tmp(self) -> Path:
        return self.folder / "tmp"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.label} was never started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "TMPDIR": str(self.tmp), "PYTHONUNBUFFERED": "1"}
        if self.port is not None:
            env["ADPIPE_PORT"] = str(self.port)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "adpipe.cli", *role_argv(self.role, self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )

    def kill(self) -> None:
        """SIGKILL: no drain, no nak, no cleanup — as a crash or a lost machine would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, grace: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def busy_rendering(self) -> bool:
        """Whether this (renderer) process has a render under way: its work folder exists."""
        return any(self.tmp.glob("adpipe-render-*"))

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"--- {self.label} ---\n" + "\n".join(text)


@dataclass
class RoleSet:
    """Replicas of roles sharing one environment (DATABASE_URL, NATS_URL, …)."""

    folder: Path
    env: dict[str, str]
    processes: list[RoleProcess] = field(default_factory=list)

    def add(self, role: str, replicas: int = 1) -> list[RoleProcess]:
        added = []
        for _ in range(replicas):
            replica = sum(1 for p in self.processes if p.role == role) + 1
            port = free_port() if role == "api" else None
            proc = RoleProcess(
                role, replica, dict(self.env), self.folder / f"{role}-{replica}", port=port
            )
            proc.folder.mkdir(parents=True, exist_ok=True)
            self.processes.append(proc)
            added.append(proc)
        return added

    def start(self) -> None:
        for proc in self.processes:
            if not proc.alive:
                proc.start()

    def of(self, role: str) -> list[RoleProcess]:
        return [p for p in self.processes if p.role == role]

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p.port}" for p in self.of("api")]

    def dead(self) -> list[RoleProcess]:
        return [p for p in self.processes if p.process is not None and not p.alive]

    def stop(self) -> None:
        """SIGTERM to all at once, then wait for each: a sequential stop would take minutes."""
        for proc in self.processes:
            if proc.alive:
                assert proc.process is not None
                proc.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes:
            if proc.process is None:
                continue
            try:
                proc.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(p.log_tail(lines) for p in self.processes)


# ---- JetStream ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[Any]:
    """A short-lived client on every server of `url` (a comma-separated list)."""
    nc = await nats.connect(
        servers=url.split(","),
        connect_timeout=2,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def wait_for_jetstream(url: str, within: float = 60.0) -> None:
    """Until the cluster has a meta leader: before that every JetStream request times out."""
    deadline = time.monotonic() + within
    async with jetstream(url) as js:
        while True:
            try:
                await js.account_info()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def stream_info(url: str, stream: str = STREAM) -> StreamInfo:
    async with jetstream(url) as js:
        info: StreamInfo = await js.stream_info(stream)
        return info


def current_peers(info: StreamInfo) -> set[str]:
    """The servers holding an up-to-date copy of the stream: its leader and its current replicas."""
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return set()
    peers = {cluster.leader}
    for replica in cluster.replicas or []:
        if replica.current and not replica.offline and replica.name:
            peers.add(replica.name)
    return peers


async def stream_envelopes(url: str, stream: str = STREAM) -> list[Envelope]:
    """Every message of the stream, decoded, in stream order."""
    async with jetstream(url) as js:
        info = await js.stream_info(stream)
        out: list[Envelope] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            assert msg.data is not None
            out.append(decode_envelope(msg.data))
        return out


# ---- HTTP ----------------------------------------------------------------------------------------


async def http_ok(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


@contextlib.asynccontextmanager
async def media_server(files: Mapping[str, tuple[bytes, str]]) -> AsyncIterator[str]:
    """Serves `files` (path -> (body, content type)) on 127.0.0.1; yields the base URL."""

    async def serve(request: web.Request) -> web.Response:
        if request.path not in files:
            return web.Response(status=404)
        body, content_type = files[request.path]
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    async with serve_app(app) as base:
        yield base


# ---- the log -------------------------------------------------------------------------------------


def count_events(database_url: str, event_type: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE type = %s", [event_type]).fetchone()
    return int(row[0]) if row else 0


def head_and_checkpoints(database_url: str) -> tuple[int, dict[str, int]]:
    """The log's last position, and every checkpoint (relay, projections, …) by name."""
    with psycopg.connect(database_url) as conn:
        head = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        rows = conn.execute("SELECT name, position FROM checkpoints").fetchall()
    return (int(head[0]) if head else 0), {str(n): int(p) for n, p in rows}
