"""Running adpipe's roles in-process for integration tests: relay, projector and services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS

from adpipe.bus import connect
from adpipe.context import Core, open_core
from adpipe.runtime.roles import run_projector, run_relay, run_service
from adpipe.settings import Settings
from adpipe.tasks import cancel_and_wait


@dataclass
class RunningStack:
    core: Core
    nc: NATS
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


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
