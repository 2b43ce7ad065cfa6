"""Every failure as RFC 9457 `application/problem+json`: the one place errors become responses.

`problem_for` maps the AdpipeError tree, litestar's HTTP exceptions and database outages to a
`Problem`; the app's exception handler and the idempotency replay both use it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec
import psycopg
from litestar import Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import ParameterKwarg
from psycopg_pool import PoolTimeout

from adpipe.errors import AdpipeError, InvalidTransition, ValidationFailed
from adpipe.observability.http import count_limit_rejection

if TYPE_CHECKING:
    from litestar import Request

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    422: "validation-failed",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
}


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """RFC 9457 problem details, plus adpipe's extension members when they apply."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    # 422: the failing fields, as JSON paths into the body ("creative.durationSeconds").
    errors: list[FieldError] | None = None
    # 409 about a job or an asset: the status that forbids the request.
    job_status: str | None = None
    asset_status: str | None = None
    # 503 from /readyz: which dependency failed.
    checks: dict[str, str] | None = None


class UnsupportedMediaType(AdpipeError):
    status_code = 415
    title = "Unsupported media type"


class RangeNotSatisfiable(AdpipeError):
    status_code = 416
    title = "Range not satisfiable"


class BadRequest(AdpipeError):
    status_code = 400
    title = "Bad request"


def problem_type(status: int) -> str:
    return f"urn:adpipe:problem:{_SLUGS.get(status, str(status))}"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> Problem:
    title = title or _phrase(status)
    return Problem(type=problem_type(status), title=title, status=status, detail=detail, **extra)


# ---- msgspec validation messages -> field paths ------------------------------------------------

_NAMED_FIELD = re.compile(r"(?:missing required field|unknown field) `([^`]+)`")
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _join(base: str, name: str) -> str:
    if not name:
        return base
    if not base or name.startswith("["):
        return base + name
    return f"{base}.{name}"


def field_error(path: str, message: str) -> FieldError:
    """`path` like `.creative.assets[0].url`, `message` like msgspec's; names missing fields."""
    base = path.lstrip(".")
    named = _NAMED_FIELD.search(message)
    if named:
        base = _join(base, named.group(1))
    return FieldError(field=base or "body", message=message)


def errors_from_msgspec(exc: msgspec.ValidationError, *, strip: str = "") -> list[FieldError]:
    """One FieldError from msgspec's "<message> - at `$.a.b[0]`" (the body is the root)."""
    match = _AT_PATH.match(str(exc))
    assert match is not None
    path = match.group("path") or ""
    if strip and path.startswith(strip):
        path = path[len(strip) :]
    return [field_error(path, match.group("message"))]


def _litestar_validation(exc: ValidationException, aliases: Mapping[str, str]) -> Problem:
    """litestar's 400 for a body or parameter that failed msgspec validation becomes our 422."""
    cause = exc.__cause__
    items = exc.extra if isinstance(exc.extra, list) else []
    if not items and isinstance(cause, msgspec.ValidationError):
        errors = errors_from_msgspec(cause, strip=".data")
    else:
        errors = []
        for item in items:
            if not isinstance(item, dict):
                continue
            key = str(item.get("key", ""))
            message = str(item.get("message", "invalid"))
            if item.get("source") == "body" and key == "data" and "'data'" in message:
                return problem(400, "the request needs a JSON body")
            if item.get("source") != "body":
                key = aliases.get(key, key)
            errors.append(field_error("" if key == "data" else key, message))
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors) or "the request is invalid"
    return problem(422, summary, title=ValidationFailed.title, errors=errors)


# ---- the one mapping ---------------------------------------------------------------------------


def problem_for(
    exc: BaseException, aliases: Mapping[str, str] | None = None
) -> tuple[Problem, dict[str, str]]:
    """The problem document and extra headers for any exception a request can raise;
    `aliases` maps handler parameter names to their names on the wire (pageSize, …)."""
    if isinstance(exc, AdpipeError):
        status = int(getattr(exc, "status_code", 500))
        if status >= 500 and status != 502 and status != 503:
            log.error("unexpected %s: %s", type(exc).__name__, exc.detail)
        raw_errors = exc.extra.get("errors") or []
        errors = [FieldError(field=e["field"], message=e["message"]) for e in raw_errors] or None
        job_status = exc.extra.get("status") if isinstance(exc, InvalidTransition) else None
        job_status = job_status or exc.extra.get("job_status")
        headers = {"www-authenticate": "Bearer"} if status == 401 else {}
        if status == 416 and "size" in exc.extra:
            headers["content-range"] = f"bytes */{exc.extra['size']}"
        if status == 429 and "retry_after" in exc.extra:
            headers["retry-after"] = str(max(1, int(exc.extra["retry_after"])))
            count_limit_rejection(str(exc.extra.get("limit", "unknown")))
        return problem(
            status,
            exc.detail,
            title=exc.title,
            errors=errors,
            job_status=job_status,
            asset_status=exc.extra.get("asset_status"),
        ), headers
    if isinstance(exc, ValidationException) and (
        isinstance(exc.__cause__, msgspec.ValidationError) or exc.extra
    ):
        return _litestar_validation(exc, aliases or {}), {}
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = exc.detail if exc.detail and exc.detail != _phrase(status) else ""
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        if isinstance(exc.__cause__, SerializationException):
            detail = f"the body is not valid JSON: {exc.__cause__.detail or exc.__cause__}"
        return problem(status, detail or _default_detail(status, headers)), headers
    if isinstance(exc, psycopg.OperationalError | PoolTimeout):
        log.warning("database unavailable: %s", exc)
        return problem(503, "the database is unavailable; retry shortly"), {"retry-after": "5"}
    if isinstance(exc, psycopg.DataError):
        # A value Postgres cannot store slipped past validation; the client's input, not a crash.
        log.warning("rejected by the database: %s", exc)
        return problem(422, f"a value in the request cannot be stored: {exc}"), {}
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "an unexpected error occurred; it has been logged"), {}


def _default_detail(status: int, headers: dict[str, str]) -> str:
    match status:
        case 404:
            return "no such resource"
        case 405:
            return f"the method is not allowed here; allowed: {headers.get('allow', '')}"
        case 413:
            return "the request body is too large"
        case 401:
            return "send Authorization: Bearer <api key>"
    return _phrase(status)


def problem_response(
    exc: BaseException, aliases: Mapping[str, str] | None = None
) -> Response[bytes]:
    body, headers = problem_for(exc, aliases)
    return problem_response_of(body, headers)


def problem_response_of(body: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=body.status,
        media_type=PROBLEM_JSON,
        headers=headers or {},
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The app's only exception handler."""
    aliases = _parameter_aliases(request) if isinstance(exc, ValidationException) else None
    body, headers = problem_for(exc, aliases)
    if body.status == 413:  # a size limit refused it; the limits dashboard counts these
        multipart = request.headers.get("content-type", "").startswith("multipart/")
        count_limit_rejection("upload_bytes" if multipart else "json_body_bytes")
    if body.status >= 500:
        log.info("%s %s answered %s", request.method, request.url.path, body.status)
    return problem_response_of(body, headers)


def _parameter_aliases(request: Request[Any, Any, Any]) -> dict[str, str]:
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except Exception:  # no route (404/405): no parameters to name
        return {}
    aliases = {}
    for name, parameter in parameters.items():
        kwarg = parameter.kwarg_definition
        if isinstance(kwarg, ParameterKwarg) and kwarg.name:
            aliases[name] = kwarg.name
    return aliases


# ---- OpenAPI ---------------------------------------------------------------------------------

_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON, bad multipart body)",
    401: "Missing, unknown or revoked API key",
    404: "No such resource for this user",
    409: (
        "The resource's state forbids the request (see jobStatus / assetStatus), or the body"
        " names something unknown or unusable for this user (`errors` lists the fields)"
    ),
    413: "Body over the size limit",
    415: "Unsupported Content-Type",
    416: "Range not satisfiable",
    422: "Invalid input; `errors` lists the failing fields",
    503: "Postgres or the read models are unavailable",
}


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses documenting the problem documents a route can answer."""
    return {
        s: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(s, _phrase(s)),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for s in sorted({*statuses, 400, 401, 429, 503})
    }
