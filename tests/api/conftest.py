"""API fixtures: a Core on a fresh database, the projector and fake services running in-process,
the app served by uvicorn on 127.0.0.1, and HTTP clients for two users (alice and bob)."""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import uvicorn

from adpipe.api.app import create_app
from adpipe.api.keys import create_key
from adpipe.api.server import ApiServer
from adpipe.context import Core, open_core
from adpipe.projections import ALL_PROJECTIONS
from adpipe.projector import Projector
from adpipe.settings import load_settings
from adpipe.tasks import cancel_and_wait

from .fakes import FakeServices, running

UPLOAD_LIMIT = 2 * 1024 * 1024


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0]


@dataclass
class Client:
    """One user's view of the API over real HTTP."""

    session: aiohttp.ClientSession
    base: str
    key: str | None

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Answer:
        sent = dict(headers or {})
        if self.key is not None:
            sent.setdefault("Authorization", f"Bearer {self.key}")
        url = path if path.startswith("http") else f"{self.base}{path}"
        async with self.session.request(method, url, headers=sent, **kwargs) as response:
            return Answer(response.status, response.headers, await response.read())

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("DELETE", path, **kwargs)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Tests override this to change settings (e.g. a short storyboard wait)."""
    return {}


@pytest.fixture
async def core(database_url: str, settings_overrides: dict[str, Any]) -> AsyncIterator[Core]:
    values: dict[str, Any] = {
        "database_url": database_url,
        "pool_max_size": 12,
        "storyboard_wait_seconds": 10.0,
        "projection_wait_seconds": 10.0,
        "upload_max_bytes": UPLOAD_LIMIT,
        **settings_overrides,
    }
    async with open_core(load_settings({}, **values)) as opened:
        yield opened


@pytest.fixture
async def projector(core: Core) -> AsyncIterator[Projector]:
    projector = Projector(
        core.store, core.pool, ALL_PROJECTIONS(), waker=core.waker, poll_seconds=0.2
    )
    task = asyncio.create_task(projector.run(), name="projector")
    yield projector
    await cancel_and_wait(task)  # repeats the cancel: one can be swallowed (see adpipe.tasks)


@pytest.fixture
async def fakes(core: Core, projector: Projector) -> AsyncIterator[FakeServices]:
    async with running(FakeServices(core)) as services:
        yield services


@contextlib.asynccontextmanager
async def serving(core: Core, **app_options: Any) -> AsyncIterator[str]:
    config = uvicorn.Config(
        create_app(core, **app_options),
        host="127.0.0.1",
        port=0,
        lifespan="on",
        log_config=None,
        access_log=False,
        # As in production: a connection left open must not hold the shutdown forever.
        timeout_graceful_shutdown=5,
    )
    server = ApiServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def base_url(core: Core, fakes: FakeServices) -> AsyncIterator[str]:
    async with serving(core) as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as opened:
        yield opened


@pytest.fixture
async def alice(core: Core, base_url: str, session: aiohttp.ClientSession) -> Client:
    return Client(session, base_url, await create_key(core.pool, "alice"))


@pytest.fixture
async def bob(core: Core, base_url: str, session: aiohttp.ClientSession) -> Client:
    return Client(session, base_url, await create_key(core.pool, "bob"))


@pytest.fixture
def anonymous(base_url: str, session: aiohttp.ClientSession) -> Client:
    return Client(session, base_url, None)


# ---- request bodies ------------------------------------------------------------------------------


def job_body(client_id: str, **creative: Any) -> dict[str, Any]:
    """The seed's example job, for `client_id`; `creative` overrides creative fields."""
    return {
        "context": {"clientId": client_id},
        "adBasics": {
            "product": "Smart Watch",
            "targetAudience": "Tech enthusiasts",
            "keyMessage": "Stay connected",
            "callToAction": "Buy Now",
        },
        "creative": {
            "direction": {"style": "Modern", "tone": "Energetic"},
            "assets": [],
            **creative,
        },
    }


async def new_client(user: Client, name: str = "ACME") -> str:
    answer = await user.post("/api/v3/clients", json={"name": name})
    assert answer.status == 201, answer.body
    client_id: str = answer.json()["id"]
    return client_id
