"""Serving the API with uvicorn in a process that owns its signals (`adpipe up`, `adpipe api`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from adpipe.context import open_core

from .access_log import access_log
from .app import create_app

if TYPE_CHECKING:
    from adpipe.settings import Settings

    from .state import NatsReady

log = logging.getLogger(__name__)


class ApiServer(uvicorn.Server):
    """uvicorn without its signal handlers: the supervisor decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    @property
    def port(self) -> int:
        """The port it listens on (the real one when configured with port 0)."""
        port: int = self.servers[0].sockets[0].getsockname()[1]
        return port


async def serve_api(
    settings: Settings,
    stop: asyncio.Event,
    *,
    nats_ready: NatsReady | None = None,
    ready: asyncio.Event | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serves on settings.host:settings.port (or on `sock`, a listening socket handed down by a
    supervisor) until `stop` is set; `ready` once it listens."""
    async with open_core(settings) as core:
        config = uvicorn.Config(
            access_log(create_app(core, nats_ready=nats_ready)),
            host=settings.host,
            port=settings.port,
            lifespan="on",
            access_log=False,  # access_log() logs one line per request instead
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        server = ApiServer(config)
        serving = asyncio.create_task(_serve(server, sock), name="uvicorn")
        stopping = asyncio.create_task(stop.wait())
        try:
            while not server.started:
                if serving.done():
                    serving.result()  # raises why it could not start
                    raise RuntimeError("the API server stopped before it started")
                await asyncio.sleep(0.02)
            log.info("API listening on http://%s:%s", settings.host, server.port)
            # What start-up loaded (modules, the schema, the routes) lives as long as the
            # process: frozen out of the collector's sight, a full collection no longer walks
            # all of it while requests wait (a pause every request in flight showed at p99).
            gc.collect()
            gc.freeze()
            if ready is not None:
                ready.set()
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            server.should_exit = True
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving


async def _serve(server: uvicorn.Server, sock: socket.socket | None) -> None:
    try:
        await server.serve(sockets=None if sock is None else [sock])
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start the app
        raise RuntimeError(
            f"the API server could not start on {server.config.host}:{server.config.port}"
        ) from exc
