"""`adpipe up`: a private Postgres and nats-server under $ADPIPE_HOME, and every role supervised.

Ctrl-C or SIGTERM stops the roles, then NATS, then Postgres; data survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import psycopg
from psycopg import sql

from adpipe.storage.migrations import apply_migrations

from .nats import EmbeddedNats
from .postgres import EmbeddedPostgres
from .roles import SERVICES, connected, run_projector, run_relay, run_service

if TYPE_CHECKING:
    from adpipe.settings import Settings

log = logging.getLogger(__name__)
DATABASE = "adpipe"


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


async def run_roles(settings: Settings, stop: asyncio.Event, *, announce: bool = True) -> None:
    """Every role in this process, sharing one pool and one NATS connection."""
    from adpipe.api.server import serve_api

    async with connected(settings, "up") as (core, nc):
        api_ready = asyncio.Event()

        async def nats_ready() -> bool:
            return bool(nc.is_connected)

        async with asyncio.TaskGroup() as group:
            group.create_task(run_relay(core, nc, stop), name="relay")
            group.create_task(run_projector(core, stop), name="projector")
            for name in SERVICES:
                group.create_task(run_service(name, core, nc, stop), name=f"service:{name}")
            group.create_task(
                serve_api(settings, stop, nats_ready=nats_ready, ready=api_ready), name="api"
            )
            await api_ready.wait()
            if announce:
                key = await dev_key(settings, Path(settings.home))
                print(
                    f"adpipe is up at http://{settings.host}:{settings.port}\n"
                    f"  studio: http://{settings.host}:{settings.port}/"
                    " (open it in a browser and paste the API key)\n"
                    f"  API key (user dev): {key}\n"
                    f"  try: curl -H 'Authorization: Bearer {key}' "
                    f"http://{settings.host}:{settings.port}/api/v3/jobs\n"
                    f"  metrics: http://{settings.host}:{settings.port}/metrics"
                    " (worker ports: README, Operating adpipe)\n"
                    f"  for adpipe replay and other tools: DATABASE_URL={settings.database_url}"
                    f" NATS_URL={settings.nats_url}\n"
                    "  Ctrl-C stops everything; data stays in "
                    f"{settings.home}",
                    flush=True,
                )


async def report_stragglers(stop: asyncio.Event, grace: float = 15.0) -> None:
    """A shutdown that takes longer than `grace` names what is still running."""
    await stop.wait()
    await asyncio.sleep(grace)
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            log.warning("still running %.0f s after the stop signal: %r", grace, task)
            task.print_stack(file=sys.stderr)


def up(settings: Settings) -> int:
    home = Path(settings.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(home / "postgres")
    nats_server = EmbeddedNats(home / "nats")
    try:
        admin_url = postgres.start()
        ensure_database(admin_url)
        nats_url = nats_server.start()
        settings = msgspec.structs.replace(
            settings, database_url=postgres.url(DATABASE), nats_url=nats_url, home=str(home)
        )
        return asyncio.run(_serve(settings))
    finally:
        nats_server.stop()
        postgres.stop()


async def _serve(settings: Settings) -> int:
    await apply_migrations(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watchdog = asyncio.create_task(report_stragglers(stop))
    try:
        await run_roles(settings, stop)
    finally:
        watchdog.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    print("adpipe stopped", file=sys.stderr, flush=True)
    return 0
