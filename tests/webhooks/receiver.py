"""A real webhook receiver on 127.0.0.1 that verifies every call with `standardwebhooks`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Call:
    path: str
    message_id: str
    payload: dict[str, Any]
    body: str
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    # path -> the signing secret its subscription was given; unknown paths answer 404.
    secrets: dict[str, str] = field(default_factory=dict)
    # path -> the status to answer once verified (default 204).
    answers: dict[str, int] = field(default_factory=dict)
    # path -> query parameters a call must carry (a token in the URL), else 403.
    required_query: dict[str, dict[str, str]] = field(default_factory=dict)
    # message ids (event ids) answered with 500 while they are in this set.
    failing: set[str] = field(default_factory=set)
    # Calls that were verified and answered 2xx.
    calls: list[Call] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def payloads(self, path: str = "/hook") -> list[dict[str, Any]]:
        return [c.payload for c in self.calls if c.path == path]

    async def start(self) -> None:
        """Listens on the same port as before when restarted."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        secret = self.secrets.get(request.path)
        if secret is None:
            return web.Response(status=404)
        required = self.required_query.get(request.path, {})
        if any(request.query.get(name) != value for name, value in required.items()):
            self.rejected.append(f"{request.path}: wrong or missing query {dict(request.query)}")
            return web.Response(status=403, text="bad token")
        body = await request.text()
        try:
            payload = Webhook(secret).verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            return web.Response(status=400, text=str(exc))
        if request.headers["webhook-id"] in self.failing:
            return web.Response(status=500, text="not now")
        status = self.answers.get(request.path, 204)
        if status >= 300:
            return web.Response(status=status, text="broken")
        self.calls.append(
            Call(
                path=request.path,
                message_id=request.headers["webhook-id"],
                payload=json.loads(body) if payload is None else payload,
                body=body,
                headers=dict(request.headers),
                query=dict(request.query),
            )
        )
        return web.Response(status=status)
