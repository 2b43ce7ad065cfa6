"""Checks every /api/v3 request passes before its handler: media type (415), NUL characters,
and a JSON body decoded strictly.

Postgres text and JSONB cannot hold NUL, so a NUL in an id or a filter can match nothing: an id
answers 404 and a filter 422 here, before any query sees it.

litestar converts a handler's `data` leniently (`"1"` for an int, `"true"` for a bool), which the
OpenAPI document (msgspec's schema of the same types) does not allow; the body is decoded here
first with msgspec's strict rules, so what `/schema` states is exactly what is accepted.
"""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.errors import NotFound, ValidationFailed

from .errors import UnsupportedMediaType, errors_from_msgspec

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
    if not request.scope["query_string"] and request.method not in _WITH_BODY:
        return  # nothing more to check: most reads end here, without parsing a query
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            raise ValidationFailed(
                "query parameters must not contain NUL characters",
                [{"field": name.replace("\x00", ""), "message": "contains a NUL character"}],
            )
    if request.method in _WITH_BODY:
        _check_media_type(request)
        await _check_body(request)


def body_type(handler: object) -> Any:
    """The msgspec struct, or tagged union of structs, a handler's `data` is decoded into (None
    for handlers without a body or that parse their own)."""
    signature = getattr(handler, "parsed_fn_signature", None)
    data = signature.parameters.get("data") if signature is not None else None
    kind = data.annotation if data is not None else None
    members = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    if members and all(isinstance(m, type) and issubclass(m, msgspec.Struct) for m in members):
        return kind
    return None


async def _check_body(request: Request[Any, Any, Any]) -> None:
    kind = body_type(request.route_handler)
    if kind is None:
        return
    body = await request.body()
    if not body:
        return  # litestar answers that a body is needed
    try:
        msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        errors = errors_from_msgspec(exc)
        raise ValidationFailed(
            errors[0].message, [msgspec.to_builtins(e) for e in errors]
        ) from None
    except msgspec.DecodeError:
        return  # not JSON: litestar's own decoding answers 400 with the reason


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
