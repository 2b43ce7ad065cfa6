"""The API as `adpipe api` serves it (access log, request ids, /metrics) in front of real roles
running in this process, and a user driving a job through it over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import uvicorn

from adpipe.api.access_log import access_log
from adpipe.api.app import create_app
from adpipe.api.keys import create_key
from adpipe.api.server import ApiServer
from adpipe.settings import Settings
from testkit.seed import job_body
from testkit.stack import RunningStack, running_stack

API = "/api/v3"


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any


@dataclass
class User:
    http: aiohttp.ClientSession
    base: str
    key: str

    async def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        async with self.http.request(
            method, f"{self.base}{path}", headers=headers, **kwargs
        ) as response:
            raw = await response.read()
            body: Any = raw
            if response.content_type.endswith("json"):
                body = await response.json(content_type=None)
            return Answer(response.status, response.headers, body)


@dataclass
class ApiStack:
    stack: RunningStack
    base: str
    user: User


@contextlib.asynccontextmanager
async def api_stack(
    settings: Settings, http: aiohttp.ClientSession, services: Sequence[str]
) -> AsyncIterator[ApiStack]:
    """Relay, projector and `services` in-process, and the API over uvicorn on 127.0.0.1."""
    async with running_stack(settings, services) as stack:
        config = uvicorn.Config(
            access_log(create_app(stack.core)),
            host="127.0.0.1",
            port=0,
            lifespan="on",
            log_config=None,
            access_log=False,
        )
        server = ApiServer(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), task.result()
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{server.port}"
        try:
            key = await create_key(stack.core.pool, "alice")
            yield ApiStack(stack=stack, base=base, user=User(http, base, key))
        finally:
            server.should_exit = True
            await task


@dataclass
class JobRun:
    job_id: str
    create: Answer
    approve: Answer
    final: Answer


async def run_job(user: User, image_url: str, *, within: float = 180.0) -> JobRun:
    """Creates a client and a job, approves its storyboard and waits for the MP4."""
    client = await user.call("POST", f"{API}/clients", json={"name": "ACME"})
    assert client.status == 201, client.body
    create = await user.call("POST", f"{API}/jobs", json=job_body(client.body["id"], image_url))
    assert create.status == 201, create.body
    job_id = create.body["id"]
    assert create.body["status"] == "storyboard_review", create.body
    approve = await user.call(
        "POST", f"{API}/jobs/{job_id}/actions", json={"action": "approve_storyboard"}
    )
    assert approve.status == 200, approve.body
    deadline = time.monotonic() + within
    while True:
        final = await user.call("GET", f"{API}/jobs/{job_id}")
        if final.body["status"] in ("completed", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"job still {final.body['status']}"
        await asyncio.sleep(0.2)
    assert final.body["status"] == "completed", final.body
    return JobRun(job_id=job_id, create=create, approve=approve, final=final)
