"""Checks every /api/v3 request passes before its handler: media type (415) and NUL characters.

Postgres text and JSONB cannot hold NUL, so a NUL in an id or a filter can match nothing: an id
answers 404 and a filter 422 here, before any query sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adpipe.errors import NotFound, ValidationFailed

from .errors import UnsupportedMediaType

if TYPE_CHECKING:
    from litestar import Request

JSON = "application/json"
MULTIPART = "multipart/form-data"
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def accepts(*media_types: str) -> dict[str, Any]:
    """Route `opt` naming the media types a route's body may have (default: JSON only)."""
    return {"accepts": media_types}


async def check_request(request: Request[Any, Any, Any]) -> None:
    for value in request.path_params.values():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound("no such resource")
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            raise ValidationFailed(
                "query parameters must not contain NUL characters",
                [{"field": name.replace("\x00", ""), "message": "contains a NUL character"}],
            )
    if request.method in _WITH_BODY:
        _check_media_type(request)


def _check_media_type(request: Request[Any, Any, Any]) -> None:
    allowed: tuple[str, ...] = request.route_handler.opt.get("accepts", (JSON,))
    header = request.headers.get("content-type")
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    if not has_body:
        return  # nothing to interpret: clients label empty bodies anything (aiohttp: octet-stream)
    if header is None:
        raise UnsupportedMediaType(f"send the body with Content-Type: {' or '.join(allowed)}")
    media = header.split(";", 1)[0].strip().lower()
    if media in allowed or (
        JSON in allowed and media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise UnsupportedMediaType(
        f"Content-Type {media or '(empty)'} is not accepted here; use {' or '.join(allowed)}"
    )
