"""`Authorization: Bearer <api key>` on every /api/v3 route; the key's user owns what it touches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from adpipe.errors import Unauthorized
from adpipe.observability import correlation
from adpipe.observability.http import header

from .keys import authenticate

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection

    from .state import ApiState


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to the key's user id; anything else answers 401."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        # Read from the scope: `connection.headers` would build a Headers of every header first.
        scope = connection.scope
        scheme, _, token = header(scope, b"authorization").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send the header Authorization: Bearer <api key>")
        api: ApiState = connection.app.state.api
        user = await authenticate(
            api.core.pool, token, cache_seconds=api.settings.api_key_cache_seconds
        )
        if user is None:
            raise Unauthorized("the API key is unknown or has been revoked")
        # Routed by now: a job's routes name it, and the request's log lines should too.
        correlation.bind(user=user, job=scope.get("path_params", {}).get("job_id"))
        api.limits.check_rate(user)
        return AuthenticationResult(user=user, auth=token)
