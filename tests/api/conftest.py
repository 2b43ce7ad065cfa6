"""API fixtures: the real thing in-process on a fresh database and NATS — the relay, the projector
and the downloader, planner (built-in, offline), voice (espeak-ng, offline) and renderer services
— the app served by uvicorn on 127.0.0.1, and HTTP clients for two users (alice and bob).

Only the outside world is faked: remote assets are files on a 127.0.0.1 server (`cdn`; any other
path answers 404), and the cloud TTS provider is a local fake of its HTTP API (`speech_provider`).
Videos render at RENDER_FPS frames a second, so an approved 30 s ad takes a second or two.
"""

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
from adpipe.context import Core
from adpipe.projections import ALL_PROJECTIONS
from adpipe.projector import Projector
from adpipe.settings import load_settings
from adpipe.tasks import cancel_and_wait
from testkit.cdn import Cdn, serving_files
from testkit.seed import seed_body
from testkit.speech_provider import FakeSpeechProvider, serve
from testkit.stack import PausableService, RunningStack, running_stack

UPLOAD_LIMIT = 2 * 1024 * 1024
SERVICES = ("downloader", "planner", "voice", "renderer")
# Few frames: what the API tests check of a video (stored, served, priced by its length) does
# not depend on smooth motion, and 60 frames of a 30 s ad render in about a second.
RENDER_FPS = 2


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
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Tests override this to change settings (e.g. a short storyboard wait), or parametrize
    it indirectly."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def stack(
    database_url: str, nats_url: str, settings_overrides: dict[str, Any]
) -> AsyncIterator[RunningStack]:
    """A Core on this test's database and the relay to NATS; the projector and the services
    are fixtures of their own (a test may swap the projector, or run none)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "pool_max_size": 12,
        # Real services on a busy machine: a storyboard with its narrations can take seconds.
        "storyboard_wait_seconds": 30.0,
        "projection_wait_seconds": 10.0,
        "upload_max_bytes": UPLOAD_LIMIT,
        "allow_private_urls": True,  # the "internet" here is the `cdn` on 127.0.0.1
        "render_fps": RENDER_FPS,
        "retry_backoff_seconds": (0.2, 0.5),
        "max_deliver": 3,
        "download_retries": 1,
        # A render still running when the test ends is stopped at once, not waited for.
        "service_drain_seconds": 0.5,
        **settings_overrides,
    }
    async with running_stack(load_settings({}, **values), projector=False) as running:
        yield running


@pytest.fixture
def core(stack: RunningStack) -> Core:
    return stack.core


@pytest.fixture
async def projector(core: Core) -> AsyncIterator[Projector]:
    projector = Projector(
        core.store, core.pool, ALL_PROJECTIONS(), waker=core.waker, poll_seconds=0.2
    )
    task = asyncio.create_task(projector.run(), name="projector")
    yield projector
    await cancel_and_wait(task)  # repeats the cancel: one can be swallowed (see adpipe.tasks)


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    async with serving_files() as served:
        yield served


@pytest.fixture
async def speech_provider(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSpeechProvider]:
    """The cloud TTS provider, for tests that configure a tts_model: litellm finds it through
    the variables the README tells an operator to set, so no narration leaves 127.0.0.1."""
    async with serve() as fake:
        monkeypatch.setenv("OPENAI_API_BASE", fake.url)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield fake


@dataclass
class Pipeline:
    """The real services behind this test's API, each paused and resumed at will: a paused
    planner leaves jobs pending and regenerations waiting, a paused voice leaves narrations
    pending; resumed, they pick up what arrived meanwhile from their durable consumers."""

    stack: RunningStack
    services: dict[str, PausableService]

    async def pause(self, name: str) -> None:
        await self.services[name].pause()

    def resume(self, name: str) -> None:
        self.services[name].start()


@pytest.fixture
async def pipeline(
    stack: RunningStack, projector: Projector, speech_provider: FakeSpeechProvider
) -> AsyncIterator[Pipeline]:
    services = {name: PausableService(name, stack) for name in SERVICES}
    for service in services.values():
        service.start()
    try:
        yield Pipeline(stack, services)
    finally:
        await asyncio.gather(*(service.cancel() for service in services.values()))


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
async def base_url(core: Core, pipeline: Pipeline) -> AsyncIterator[str]:
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

# The seed's example job, for `client_id`; keyword arguments set creative fields.
job_body = seed_body


async def new_client(user: Client, name: str = "ACME") -> str:
    answer = await user.post("/api/v3/clients", json={"name": name})
    assert answer.status == 201, answer.body
    client_id: str = answer.json()["id"]
    return client_id
