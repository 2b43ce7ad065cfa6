"""The "internet" of a test: files served over HTTP on 127.0.0.1, and 404 for anything else."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from testkit.loopback import serve_app


@dataclass
class Cdn:
    """Serves `files` (path -> (bytes, content type)); tests add files while it runs."""

    base: str = ""
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def add(self, path: str, body: bytes, content_type: str) -> str:
        """Serves `body` at `path` from now on; answers its URL."""
        self.files[path] = (body, content_type)
        return self.url(path)


@contextlib.asynccontextmanager
async def serving_files(files: dict[str, tuple[bytes, str]] | None = None) -> AsyncIterator[Cdn]:
    cdn = Cdn(files=dict(files or {}))

    async def serve(request: web.Request) -> web.Response:
        cdn.hits[request.path] = cdn.hits.get(request.path, 0) + 1
        found = cdn.files.get(request.path)
        if found is None:
            return web.Response(status=404, text="not found")
        body, content_type = found
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    async with serve_app(app) as cdn.base:
        yield cdn
