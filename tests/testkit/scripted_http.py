"""A scripted HTTP provider on 127.0.0.1, the base of the LLM and speech fakes: it records each
request, plays the scripted answers in order (delays and HTTP errors included), and leaves the
successful body to the provider it fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import msgspec
from aiohttp import web

from testkit.loopback import serve_app


class Scripted(msgspec.Struct, frozen=True, kw_only=True):
    """What every scripted answer can do: wait `delay` seconds, fail with `status`."""

    status: int = 200
    headers: dict[str, str] = {}
    delay: float = 0.0


A = TypeVar("A", bound=Scripted)


class ScriptedProvider(Generic[A]):
    def __init__(self) -> None:
        self.script: list[A] = []
        self.repeat_last = False
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.url = ""

    def play(self, *answers: A, repeat_last: bool = False) -> None:
        self.script = list(answers)
        self.repeat_last = repeat_last

    def unscripted(self) -> A:
        """The answer when the script is spent."""
        raise AssertionError("the fake server ran out of scripted answers")

    async def respond(self, body: dict[str, Any], answer: A) -> web.StreamResponse:
        """The provider's successful answer to request `body`."""
        raise NotImplementedError

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.paths.append(request.path)
        if self.script:
            keep = self.repeat_last and len(self.script) == 1
            answer = self.script[0] if keep else self.script.pop(0)
        else:
            answer = self.unscripted()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status != 200:
            error = {"error": {"message": f"scripted {answer.status}", "type": "server_error"}}
            return web.json_response(error, status=answer.status, headers=answer.headers)
        return await self.respond(body, answer)


P = TypeVar("P", bound=ScriptedProvider[Any])


@asynccontextmanager
async def on_loopback(fake: P, *paths: str) -> AsyncIterator[P]:
    """Serves `fake` at each of `paths` (POST) on a free loopback port; `fake.url` ends in /v1."""
    app = web.Application()
    for path in paths:
        app.router.add_post(path, fake.handle)
    async with serve_app(app) as base:
        fake.url = f"{base}/v1"
        yield fake
