"""The webhooks role: the dispatcher (log → outbox) and the sender (outbox → receivers) together.

It reads the event store directly, not NATS (see `dispatcher.py` for why), so `run` ignores the
NATS connection the service runtime hands every service.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from adpipe.net import UrlGuard
from adpipe.observability import correlation
from adpipe.webhooks import outbox

from .dispatcher import Dispatcher
from .sender import Sender

if TYPE_CHECKING:
    from adpipe.context import Core
    from adpipe.settings import WebhookConfig


async def run_webhooks(
    core: Core,
    stop: asyncio.Event,
    config: WebhookConfig | None = None,
    *,
    guard: UrlGuard | None = None,
) -> None:
    """Routes and delivers webhooks until `stop` is set; safe to run in several processes."""
    correlation.bind(role_name="webhooks")
    config = config or core.settings.webhooks
    guard = guard or UrlGuard(allow_private=core.settings.allow_private_urls)
    outbox_waker = core.waker.on(outbox.CHANNEL)  # one LISTEN connection for both channels
    await outbox_waker.start()
    dispatcher = Dispatcher(
        core.store,
        core.pool,
        waker=core.waker,
        batch_size=config.dispatch_batch_size,
        poll_seconds=core.settings.subscription_poll_seconds,
    )
    sender = Sender(core.store, core.pool, config, guard, waker=outbox_waker)
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(dispatcher.run(), name="webhooks:dispatcher"),
                group.create_task(sender.run(), name="webhooks:sender"),
            ]
            await stop.wait()
            for task in tasks:
                task.cancel()
    finally:
        await outbox_waker.stop()


async def run(core: Core, nc: Any, stop: asyncio.Event) -> None:
    """The service runtime's entry point (`adpipe service webhooks`)."""
    await run_webhooks(core, stop)
