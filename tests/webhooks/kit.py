"""Helpers for webhook and live tests (`from webhooks.kit import …`): a fast config, waiting,
subscribing, and the real API served on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn

from adpipe.api.app import create_app
from adpipe.api.server import ApiServer
from adpipe.context import Core
from adpipe.settings import WebhookConfig
from adpipe.webhooks.manage import SubscribeRequest, Webhooks
from webhooks.receiver import Receiver

StartService = Callable[..., Awaitable[None]]


def fast_config(**overrides: object) -> WebhookConfig:
    """Seconds instead of hours: ten quick retries, a short poll, a short timeout."""
    values: dict[str, object] = {
        "retry_schedule": (0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5),
        "poll_seconds": 0.1,
        "timeout_seconds": 2.0,
        "connect_timeout_seconds": 1.0,
        "lease_seconds": 10.0,
        "disable_after_seconds": 60.0,
    }
    values.update(overrides)
    return WebhookConfig(**values)  # type: ignore[arg-type]


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)


async def subscribe(
    webhooks: Webhooks, receiver: Receiver, user: str, events: list[str], path: str = "/hook"
) -> str:
    """Subscribes `receiver`'s `path` and tells the receiver the secret to verify with."""
    created = await webhooks.subscribe(
        user, SubscribeRequest(url=receiver.url(path), events=events)
    )
    assert created.secret.startswith("whsec_")
    receiver.secrets[path] = created.secret
    return created.id


def first_arrivals(receiver: Receiver, path: str = "/hook") -> list[str]:
    """Event ids in the order they first arrived (at-least-once may repeat some)."""
    return list(dict.fromkeys(p["id"] for p in receiver.payloads(path)))


@contextlib.asynccontextmanager
async def running_api(core: Core) -> AsyncIterator[str]:
    """The real app (create_app) served by uvicorn on 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(
        create_app(core),
        host="127.0.0.1",
        port=0,
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    server = ApiServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the API server stopped before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.should_exit = True
        await task
