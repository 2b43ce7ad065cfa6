"""`Allow` on OPTIONS answers names every method of the path.

litestar adds an OPTIONS handler to each route when the route is built, and that handler lists the
methods the route had *then*. A router registers its handlers one at a time, so a path whose GET
is registered before its POST keeps an OPTIONS handler that says `GET, OPTIONS` (litestar 2.25).
This middleware rewrites the header from the app's final route map, where every method is known;
405 answers already list them (the routing trie holds the whole path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send


def allowed_methods(scope: Scope) -> str | None:
    """The methods of the route whose OPTIONS handler answers, or None if it is not known."""
    handler = scope.get("route_handler")
    for route in scope["litestar_app"].routes:
        if isinstance(route, HTTPRoute) and handler in route.route_handlers:
            return ", ".join(sorted(route.methods))
    return None


class AllowHeaderMiddleware(ASGIMiddleware):
    """On OPTIONS answers, replaces `Allow` by every method the path has."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") != "OPTIONS":
            await next_app(scope, receive, send)
            return
        allow = allowed_methods(scope)

        async def send_with_allow(message: Message) -> None:
            if allow is not None and message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", allow.encode()))
                message["headers"] = headers
            await send(message)

        await next_app(scope, receive, send_with_allow)
