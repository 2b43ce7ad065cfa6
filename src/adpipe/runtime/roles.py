"""The roles one process can play — relay, projector, a service, the API — each run until stopped.

`adpipe <role>` runs one against the Postgres and NATS named by DATABASE_URL and NATS_URL, as many
replicas as the load needs; `adpipe up` supervises one process per replica of every role here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adpipe.bus import connect, ensure_stream
from adpipe.context import Core, open_core
from adpipe.errors import AdpipeError
from adpipe.projections.registry import all_projections
from adpipe.projector import Projector
from adpipe.relay import Relay
from adpipe.tasks import cancel_and_wait

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from adpipe.settings import Settings

log = logging.getLogger(__name__)

# name -> module exposing `async def run(core, nc, stop)`.
SERVICES: dict[str, str] = {
    "downloader": "adpipe.services.downloader.service",
    "planner": "adpipe.services.planner.service",
    "renderer": "adpipe.services.renderer.service",
    "voice": "adpipe.services.voice.service",
    "webhooks": "adpipe.services.webhooks.service",
}

ServiceMain = Callable[[Core, "NATS", asyncio.Event], Awaitable[None]]


def role_commands() -> dict[str, tuple[str, ...]]:
    """Every role `adpipe up` runs, each as its own processes: name -> the `adpipe` arguments.

    Services come from SERVICES above, so a service registered there is supervised too.
    """
    return {
        "relay": ("relay",),
        "projector": ("projector",),
        **{name: ("service", name) for name in SERVICES},
        "api": ("api",),
    }


class UnknownService(AdpipeError, LookupError):
    pass


def load_service(name: str) -> ServiceMain:
    if name not in SERVICES:
        raise UnknownService(
            f"unknown service {name!r}; the services are: {', '.join(sorted(SERVICES))}"
        )
    module = importlib.import_module(SERVICES[name])
    main: ServiceMain = module.run
    return main


@contextlib.asynccontextmanager
async def connected(settings: Settings, name: str) -> AsyncIterator[tuple[Core, NATS]]:
    async with open_core(settings) as core:
        nc = await connect(settings.nats_url, name=f"adpipe-{name}")
        try:
            yield core, nc
        finally:
            with contextlib.suppress(Exception):
                await nc.drain()


async def until(stop: asyncio.Event, work: Awaitable[Any]) -> None:
    """Runs `work` until it ends or `stop` is set, then cancels it cleanly."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stopper)
        await cancel_and_wait(task)


async def run_relay(core: Core, nc: NATS, stop: asyncio.Event) -> None:
    js = nc.jetstream()
    settings = core.settings
    with contextlib.suppress(Exception):
        await ensure_stream(
            js,
            settings.stream_name,
            settings.duplicate_window_seconds,
            replicas=settings.stream_replicas,
        )
    relay = Relay(
        core.store,
        js,
        settings.database_url,
        waker=core.waker,
        stream_name=settings.stream_name,
        replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_seconds,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
    )
    await until(stop, relay.run())


async def run_projector(core: Core, stop: asyncio.Event) -> None:
    projector = Projector(
        core.store,
        core.pool,
        all_projections(),
        waker=core.waker,
        batch_size=core.settings.read_batch_size,
        poll_seconds=core.settings.subscription_poll_seconds,
    )
    await until(stop, projector.run())


async def run_service(name: str, core: Core, nc: NATS, stop: asyncio.Event) -> None:
    main = load_service(name)
    await main(core, nc, stop)
