"""Running adpipe's roles in-process for integration tests: relay, projector and services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS

from adpipe.bus import connect
from adpipe.context import Core, open_core
from adpipe.runtime.roles import run_projector, run_relay, run_service
from adpipe.settings import Settings, load_settings
from adpipe.tasks import cancel_and_wait


def loopback_settings(database_url: str, nats_url: str, **overrides: Any) -> Settings:
    """Settings for the suite's Postgres and NATS, where the "internet" (remote assets, a CDN) is
    a server on 127.0.0.1 and retries come quickly; `overrides` as `load_settings` takes them."""
    return load_settings(
        {},
        database_url=database_url,
        nats_url=nats_url,
        allow_private_urls=True,
        retry_backoff_seconds=(0.2, 0.5),
        **overrides,
    )


@dataclass
class RunningStack:
    core: Core
    nc: NATS
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class PausableService:
    """A service of a running stack stopped and started again at will: its durable consumer keeps
    what arrives meanwhile, so a paused planner leaves a job pending (or a regeneration waiting)
    for as long as a test needs to look at it, and picks it up once started again."""

    def __init__(self, name: str, stack: RunningStack) -> None:
        self.name = name
        self.stack = stack
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        assert self.task is None, f"the {self.name} service is already running"
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            run_service(self.name, self.stack.core, self.stack.nc, self.stop), name=self.name
        )

    async def pause(self) -> None:
        assert self.task is not None, f"the {self.name} service is not running"
        self.stop.set()
        async with asyncio.timeout(15):
            await self.task
        self.task = None

    async def cancel(self) -> None:
        """Stops it at once, work in hand included (its messages are redelivered elsewhere):
        for a test's end, where a graceful stop would only wait out the runner's fetch."""
        if self.task is not None:
            await cancel_and_wait(self.task)
            self.task = None


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings,
    services: Sequence[str] = (),
    *,
    relay: bool = True,
    projector: bool = True,
) -> AsyncIterator[RunningStack]:
    """Opens a Core and a NATS connection and runs the chosen roles until the block ends."""
    async with open_core(settings) as core:
        nc = await connect(settings.nats_url, name="adpipe-test")
        stack = RunningStack(core=core, nc=nc, stop=asyncio.Event())
        if relay:
            stack.tasks.append(asyncio.create_task(run_relay(core, nc, stack.stop)))
        if projector:
            stack.tasks.append(asyncio.create_task(run_projector(core, stack.stop)))
        for name in services:
            stack.tasks.append(asyncio.create_task(run_service(name, core, nc, stack.stop)))
        try:
            yield stack
        finally:
            stack.stop.set()
            for task in stack.tasks:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait({task}, timeout=10)
                await cancel_and_wait(task)
            await nc.close()
