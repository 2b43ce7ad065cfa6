"""A whole adpipe stack for browser tests, in a thread of its own.

Selenium blocks while it waits for the browser, so the stack cannot share the test's event
loop: it runs in a background thread with its own loop — real Postgres and NATS, the relay, the
projector, the downloader, planner (built-in, offline), voice (espeak-ng, offline) and renderer
services, the API served by uvicorn on 127.0.0.1 behind a cuttable proxy, and a "CDN" of media
files on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nats
import uvicorn
from aiohttp import web

from adpipe.api.app import create_app
from adpipe.api.keys import create_key
from adpipe.api.server import ApiServer
from adpipe.settings import Settings
from testkit.loopback import serve_app
from testkit.media import jpeg_bytes
from testkit.stack import PausableService, RunningStack, running_stack

from .proxy import CuttableProxy, cuttable_proxy

T = TypeVar("T")
# The planner and the voice service run on their own so that a test can pause them: a
# regeneration (or a narration) then stays pending for as long as the test needs to look at it.
SERVICES = ("downloader", "renderer")
PAUSABLE = ("planner", "voice")
START_SECONDS = 60


@dataclass
class Cdn:
    """Media "on the internet" (127.0.0.1); /slow.jpg answers only once `release` is set."""

    base: str
    release: asyncio.Event
    hits: dict[str, int] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def cdn_server() -> AsyncIterator[Cdn]:
    files = {
        "/product.jpg": jpeg_bytes((200, 30, 30)),
        "/lifestyle.jpg": jpeg_bytes((30, 160, 60)),
    }
    cdn = Cdn(base="", release=asyncio.Event())

    async def serve(request: web.Request) -> web.StreamResponse:
        cdn.hits[request.path] = cdn.hits.get(request.path, 0) + 1
        if request.path == "/slow.jpg":
            await cdn.release.wait()
            return web.Response(body=files["/product.jpg"], content_type="image/jpeg")
        if request.path not in files:
            return web.Response(status=404, text="not found")
        return web.Response(body=files[request.path], content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    async with serve_app(app) as cdn.base:
        try:
            yield cdn
        finally:
            cdn.release.set()  # a held /slow.jpg answers before the server shuts down


@contextlib.asynccontextmanager
async def served(stack: RunningStack) -> AsyncIterator[int]:
    """The API app on uvicorn, 127.0.0.1, a free port; yields the port."""
    config = uvicorn.Config(
        create_app(stack.core),
        host="127.0.0.1",
        port=0,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = ApiServer(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(START_SECONDS):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield server.port
    finally:
        server.should_exit = True
        await task


async def clear_jetstream(url: str) -> None:
    """No streams left from earlier tests (as the root `nats_url` fixture does)."""
    client = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
    try:
        manager = client.jsm()
        while streams := await manager.streams_info():
            for stream in streams:
                assert stream.config.name is not None
                await manager.delete_stream(stream.config.name)
    finally:
        await client.close()


@dataclass
class StudioStack:
    """The running stack as the test thread sees it."""

    loop: asyncio.AbstractEventLoop
    stack: RunningStack
    proxy: CuttableProxy
    cdn: Cdn
    files: Path
    services: dict[str, PausableService]

    @property
    def origin(self) -> str:
        return self.proxy.origin

    def run(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60) -> T:
        """Runs a coroutine on the stack's loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Runs a plain function on the stack's loop (for its asyncio objects)."""

        async def wrapped() -> T:
            return fn()

        return self.run(wrapped)

    def new_key(self, user: str) -> str:
        return self.run(lambda: create_key(self.stack.core.pool, user))

    def pause_planner(self) -> None:
        self.run(self.services["planner"].pause)

    def resume_planner(self) -> None:
        self.call(self.services["planner"].start)

    def pause_voice(self) -> None:
        self.run(self.services["voice"].pause)

    def resume_voice(self) -> None:
        self.call(self.services["voice"].start)


class StackThread:
    """Starts the stack in a daemon thread; `stop()` shuts it down and joins."""

    def __init__(self, settings: Settings, files: Path) -> None:
        self.settings = settings
        self.files = files
        self.ready: StudioStack | None = None
        self.error: BaseException | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="studio-stack", daemon=True)

    def start(self) -> StudioStack:
        self._thread.start()
        if not self._started.wait(START_SECONDS):
            raise RuntimeError(f"the studio stack did not start within {START_SECONDS} s")
        if self.error is not None:
            raise RuntimeError("the studio stack could not start") from self.error
        assert self.ready is not None
        return self.ready

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self._thread.is_alive():
            raise RuntimeError("the studio stack did not stop within 60 s")

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.error = exc
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await clear_jetstream(self.settings.nats_url)
        async with (
            cdn_server() as cdn,
            running_stack(self.settings, SERVICES) as stack,
            served(stack) as port,
            cuttable_proxy(port) as proxy,
        ):
            services = {name: PausableService(name, stack) for name in PAUSABLE}
            for service in services.values():
                service.start()
            self.ready = StudioStack(self._loop, stack, proxy, cdn, self.files, services)
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                cdn.release.set()
                for service in services.values():
                    if service.task is not None:
                        await service.pause()
