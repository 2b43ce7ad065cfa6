"""`adpipe up`: a private Postgres and nats-server under $ADPIPE_HOME, and every role supervised.

Each role replica is its own process (`adpipe api`, `adpipe service renderer`, …), restarted when it
dies. A stop (Ctrl-C, SIGTERM) is heard from the first line on, whatever step is running: the roles
stop first, then NATS, then Postgres. Everything the stack keeps lives under $ADPIPE_HOME.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import psycopg
from psycopg import sql

from adpipe.errors import AdpipeError
from adpipe.settings import (
    CHAIN_KEY_FILE,
    RunningStack,
    forget_running_stack,
    write_running_stack,
)
from adpipe.storage.chain import ensure_key_file

from .leftovers import PidFiles, StateLock
from .nats import EmbeddedNats
from .postgres import EmbeddedPostgres
from .signals import StopSignals
from .supervisor import Backoff, Role, Supervisor, plan_roles

if TYPE_CHECKING:
    from adpipe.settings import Settings

log = logging.getLogger(__name__)
DATABASE = "adpipe"
# How long `adpipe up` waits for the API's /readyz before saying it is up anyway (it keeps trying).
READY_TIMEOUT = 120.0


class PortTaken(AdpipeError, OSError):
    """The API's address is in use."""


def ensure_database(admin_url: str, name: str = DATABASE) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


async def dev_key(settings: Settings, home: Path) -> str:
    """The `dev` user's key, made on the first start and kept (0600) in the state folder."""
    path = home / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    from adpipe.api.keys import create_key

    key = await create_key(settings.database_url, "dev")
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def up(settings: Settings, signals: StopSignals | None = None) -> int:
    """Run the stack until a stop signal; 0 when it stopped cleanly."""
    # First, before anything is started: from here on no stop request can be lost. The handlers
    # stay until the process exits, so a second signal cannot interrupt the teardown either.
    signals = (signals or StopSignals()).install()
    home = Path(settings.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    from .roles import role_commands

    with StateLock(home / "run"), _listen(settings) as listener:
        # Checked before anything starts: a typo in ADPIPE_REPLICAS_* fails in a second.
        roles = plan_roles(role_commands(), settings.replicas, api_fd=listener.fileno())
        # A SIGKILLed run's role processes die with it (PDEATHSIG); any that did not are
        # stopped here. Its Postgres and nats-server are adopted by start() below.
        PidFiles(home / "run").sweep()
        postgres = EmbeddedPostgres(home / "postgres")
        nats_server = EmbeddedNats(home / "nats")
        try:
            if signals.requested:
                return 0
            admin_url = postgres.start()
            ensure_database(admin_url)
            if signals.requested:
                return 0
            nats_url = nats_server.start()
            if signals.requested:
                return 0
            settings = msgspec.structs.replace(
                settings, database_url=postgres.url(DATABASE), nats_url=nats_url, home=str(home)
            )
            return asyncio.run(_supervise(settings, signals, roles))
        finally:
            # The roles are gone by now: asyncio.run returns only once every child was reaped.
            try:
                nats_server.stop()
                log.info("nats-server stopped")
            finally:
                postgres.stop()
                log.info("Postgres stopped")
                print("adpipe stopped", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _running(settings: Settings) -> Iterator[None]:
    """While the stack runs: its chain key exists (every role reads it from ADPIPE_HOME), and
    tools started beside it find its database and NATS in <home>/stack.json."""
    home = Path(settings.home)
    if ensure_key_file(home / CHAIN_KEY_FILE):
        log.info("created the log's chain key in %s: keep a copy", home / CHAIN_KEY_FILE)
    stack = RunningStack(
        database_url=settings.database_url, nats_url=settings.nats_url, pid=os.getpid()
    )
    write_running_stack(home, stack)
    try:
        yield
    finally:
        forget_running_stack(home)


def _listen(settings: Settings) -> socket.socket:
    """The API's listening socket, held by the supervisor and shared by every api process.

    Held here, it outlives any api process: while a killed one restarts, connections wait in
    the backlog instead of being refused, and replicas need no SO_REUSEPORT.
    """
    try:
        return socket.create_server((settings.host, settings.port), backlog=1024)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise PortTaken(
            f"cannot listen on {settings.host}:{settings.port} ({reason}); "
            "stop what uses it or pick another port (--port or ADPIPE_PORT)"
        ) from error


async def _supervise(settings: Settings, signals: StopSignals, roles: list[Role]) -> int:
    from adpipe.storage.migrations import apply_migrations

    stop, hurry = asyncio.Event(), asyncio.Event()

    def on_signal(number: int) -> None:
        name = signal.Signals(number).name
        if stop.is_set():
            log.warning("%s again: killing the roles now", name)
            hurry.set()  # a second Ctrl-C: kill the roles now instead of waiting for them
        else:
            log.info("%s: stopping the roles, then nats-server, then Postgres", name)
        stop.set()

    with signals.attach(asyncio.get_running_loop(), on_signal), _running(settings):
        if stop.is_set():
            return 0
        await apply_migrations(settings.database_url)
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "NATS_URL": settings.nats_url,
            "ADPIPE_HOME": settings.home,
            "ADPIPE_HOST": settings.host,
            "ADPIPE_PORT": str(settings.port),
        }
        supervisor = Supervisor(
            roles,
            command=[sys.executable, "-m", "adpipe"],
            env=env,
            run_dir=Path(settings.home) / "run",
            backoff=Backoff(
                initial=settings.restart_backoff_seconds,
                cap=settings.restart_backoff_max_seconds,
                reset_after=settings.restart_backoff_reset_seconds,
            ),
            grace=settings.stop_grace_seconds,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(supervisor.run(stop, hurry), name="supervisor")
            group.create_task(_announce(settings, stop), name="announce")
    return 0


async def _announce(settings: Settings, stop: asyncio.Event) -> None:
    """Print the URL and the dev key once the API answers /readyz."""
    url = f"http://{settings.host}:{settings.port}"
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            while not await _ready(settings.host, settings.port):
                # Poll again in 0.1 s, or give up at once when the stack is stopping.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await stop.wait()
                if stop.is_set():
                    return
    except TimeoutError:
        log.warning("the API did not answer %s/readyz within %.0f s", url, READY_TIMEOUT)
    if stop.is_set():
        return
    key = await dev_key(settings, Path(settings.home))
    print(
        f"adpipe is up at {url}\n"
        f"  studio: {url}/ (open it in a browser and paste the API key)\n"
        f"  API key (user dev): {key}\n"
        f"  try: curl -H 'Authorization: Bearer {key}' {url}/api/v3/jobs\n"
        f"  metrics: {url}/metrics (worker ports: README, Operating adpipe)\n"
        f"  adpipe keys / adpipe replay run beside this (same ADPIPE_HOME) find it by themselves;"
        f" elsewhere: DATABASE_URL={settings.database_url} NATS_URL={settings.nats_url}\n"
        f"  Ctrl-C (or kill {os.getpid()}) stops everything; data stays in {settings.home}",
        flush=True,
    )


async def _ready(host: str, port: int) -> bool:
    """Whether GET /readyz answers 200 (a bare HTTP/1.0 request: no client library needed)."""
    try:
        async with asyncio.timeout(2.0):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(f"GET /readyz HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                await writer.drain()
                status = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return status.split(b" ")[1:2] == [b"200"]
