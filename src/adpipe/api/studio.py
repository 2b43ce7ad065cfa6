"""The studio's files, served beside /api/v3 on the same origin: `/` and `/studio/…`.

The files ship as package data (`adpipe/studio/`), are read once, and go out with a strict
Content-Security-Policy: every script and style comes from this origin, nothing runs inline, and
Trusted Types forbid HTML-from-strings sinks, so user text can only ever reach the page as text.
The studio needs no endpoint of its own: it signs every /api/v3 request with the user's key.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from litestar import HttpMethod, Response, Router, route

from adpipe.errors import NotFound

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from litestar import Request

PACKAGE = "adpipe.studio"
PREFIX = "/studio"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Thumbnails, videos and audio are fetched with the Authorization header and shown
        # through blob: URLs, because <img> and <video> cannot send headers themselves.
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        # The studio builds its DOM with createElement/textContent only; with these two,
        # innerHTML and friends throw instead of parsing a string as markup.
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    # Revalidate every time (ETag makes that a 304): an upgraded adpipe never mixes old and
    # new modules in one page.
    "cache-control": "no-cache",
}


@dataclass(frozen=True)
class StudioFile:
    body: bytes
    content_type: str
    etag: str


def _walk(folder: Traversable, prefix: str) -> dict[str, StudioFile]:
    found: dict[str, StudioFile] = {}
    for entry in folder.iterdir():
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, name))
            continue
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if suffix in CONTENT_TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[name] = StudioFile(body=body, content_type=CONTENT_TYPES[suffix], etag=etag)
    return found


@functools.cache
def studio_files() -> dict[str, StudioFile]:
    """Every servable file by its path under /studio ("/index.html", "/js/main.js", …)."""
    return _walk(resources.files(PACKAGE), "")


def _answer(request: Request[Any, Any, Any], file: StudioFile) -> Response[bytes]:
    headers = {**SECURITY_HEADERS, "etag": file.etag}
    if file.etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=headers)
    body = b"" if request.method == HttpMethod.HEAD else file.body
    headers["content-length"] = str(len(file.body))
    return Response(body, status_code=200, media_type=file.content_type, headers=headers)


@route("/", http_method=[HttpMethod.GET, HttpMethod.HEAD], include_in_schema=False)
async def studio_index(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _answer(request, studio_files()["/index.html"])


@route(
    PREFIX + "/{path:path}", http_method=[HttpMethod.GET, HttpMethod.HEAD], include_in_schema=False
)
async def studio_file(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
    file = studio_files().get(path)
    if file is None:
        raise NotFound(f"the studio has no file {path}")
    return _answer(request, file)


router = Router(path="/", route_handlers=[studio_index, studio_file])
