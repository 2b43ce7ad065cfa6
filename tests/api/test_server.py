"""serve_api: uvicorn inside the caller's loop, ready when it listens, stopped by an event."""

from __future__ import annotations

import asyncio

import aiohttp
import psycopg
import pytest

from adpipe.api.keys import create_key
from adpipe.api.server import serve_api
from adpipe.runtime.ports import free_port
from adpipe.settings import load_settings


async def test_serve_api_answers_until_stopped(
    database_url: str, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    settings = load_settings({}, database_url=database_url, host="127.0.0.1", port=port)
    stop, ready = asyncio.Event(), asyncio.Event()

    async def nats_ready() -> bool:
        return True

    serving = asyncio.create_task(serve_api(settings, stop, nats_ready=nats_ready, ready=ready))
    await asyncio.wait_for(ready.wait(), 30)
    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"]
    stop.set()
    await asyncio.wait_for(serving, 30)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(f"http://127.0.0.1:{port}/healthz"):
            pass


async def test_the_request_id_reaches_the_events_it_causes(
    database_url: str, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    # No projector runs: the write lands, and the answer is a 503 after a short wait.
    settings = load_settings({}, database_url=database_url, port=port, projection_wait_seconds=0.2)
    stop, ready = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(serve_api(settings, stop, ready=ready))
    await asyncio.wait_for(ready.wait(), 30)
    key = await create_key(database_url, "alice")
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "req-42"}
    url = f"http://127.0.0.1:{port}/api/v3/clients"
    async with session.post(url, json={"name": "ACME"}, headers=headers) as response:
        assert response.status == 503
        assert response.headers["X-Request-ID"] == "req-42"
    stop.set()
    await asyncio.wait_for(serving, 30)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT metadata FROM events")
        assert [row[0] for row in await cur.fetchall()] == [
            {"actor": "user:alice", "correlationId": "req-42", "requestId": "req-42"}
        ]


async def test_serve_api_fails_loudly_when_the_port_is_taken(database_url: str) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    settings = load_settings({}, database_url=database_url, host="127.0.0.1", port=port)
    try:
        with pytest.raises(RuntimeError, match="could not start"):
            await asyncio.wait_for(serve_api(settings, asyncio.Event()), 30)
    finally:
        blocker.close()
        await blocker.wait_closed()
