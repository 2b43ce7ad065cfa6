"""An aiohttp app served on a free 127.0.0.1 port for the length of a block: the "internet" of the
tests (remote assets, providers, webhook receivers) never leaves loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serve_app(app: web.Application, *, shutdown_timeout: float = 60.0) -> AsyncIterator[str]:
    """Serves `app` until the block ends; yields its base URL, `http://127.0.0.1:<port>`.
    A short `shutdown_timeout` stops waiting for responses that never end (dripping ones)."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
