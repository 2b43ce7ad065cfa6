"""`Idempotency-Key`: a retried request gets the first answer again instead of running twice.

The key is claimed by inserting a placeholder row under the (user, key) primary key before the
work starts, so of two concurrent duplicates only one runs; the other answers 409 until the
first has finished, then the stored answer. The fingerprint (method, path, body) makes reusing
a key for a different request a 422; a JSON body counts by its content, so a retry that
re-serialises the same object (keys in another order, other spacing) is still the same request.
Answers of 5xx are not kept: the retry runs again, with the same derived ids (see `IdSource`),
so what the failed attempt did write is not repeated.

A claim is a lease (`idempotency_claim_seconds`, longer than any request's work after its
claim): a placeholder left by a process that died, or that could not release it because the
database went away, is taken over once the lease has run out — so after an outage the key works
again within a bounded time. Stored answers are purged after `idempotency_keep_hours`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response

from adpipe.errors import Conflict, ReferenceConflict, ValidationFailed

from .errors import PROBLEM_JSON, problem_for
from .state import IdSource

if TYPE_CHECKING:
    from litestar import Request
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
PURGE_EVERY_SECONDS = 3600.0


@dataclass
class Reply:
    """An answer as bytes, so it can be stored and replayed exactly."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"

    @classmethod
    def of(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, body=msgspec.json.encode(value), headers=headers or {})

    @classmethod
    def problem(cls, exc: BaseException) -> Reply:
        problem, headers = problem_for(exc)
        return cls(
            status=problem.status,
            body=msgspec.json.encode(problem),
            headers=headers,
            media_type=PROBLEM_JSON,
        )

    def response(self, *, replayed: bool = False) -> Response[Any]:
        headers = dict(self.headers)
        if replayed:
            headers["idempotent-replayed"] = "true"
        return Response(
            content=self.body,
            status_code=self.status,
            media_type=self.media_type,
            headers=headers,
        )


def _check_key(key: str) -> str:
    if not 1 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            f"the {HEADER} header must be 1 to 200 printable ASCII characters",
            [{"field": HEADER, "message": "1 to 200 printable ASCII characters"}],
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), _canonical(body)):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    """A JSON object body re-encoded with sorted keys and no spacing; anything else (an upload's
    digest, a body that is not JSON) as it is."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(value, dict):
        return body
    return b"json:" + msgspec.json.encode(value, order="sorted")


async def run_once(
    pool: AsyncConnectionPool[Any],
    request: Request[Any, Any, Any],
    user: str,
    body: bytes,
    work: Callable[[IdSource], Awaitable[Reply]],
) -> Response[Any]:
    """Runs `work` once per (user, Idempotency-Key); without the header, simply runs it."""
    raw_key = request.headers.get(HEADER.lower())
    if raw_key is None:
        return (await _attempt(work, IdSource(user))).response()
    key = _check_key(raw_key)
    print_ = fingerprint(request.method, request.url.path, body)
    lease = request.app.state.api.settings.idempotency_claim_seconds
    stored = await _claim(pool, user, key, print_, lease)
    if stored is not None:
        return stored.response(replayed=True)
    try:
        reply = await _attempt(work, IdSource(user, key))
    except BaseException:  # cancelled: let a retry run instead of waiting for staleness
        await asyncio.shield(_release(pool, user, key))
        raise
    if reply.status >= 500:
        await _release(pool, user, key)
    else:
        await _store(pool, user, key, reply)
    return reply.response()


async def _attempt(work: Callable[[IdSource], Awaitable[Reply]], ids: IdSource) -> Reply:
    try:
        return await work(ids)
    except Exception as exc:
        return Reply.problem(exc)


async def _claim(
    pool: AsyncConnectionPool[Any], user: str, key: str, print_: str, lease: float
) -> Reply | None:
    """None when this request now owns the key; the stored reply when it already ran."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, body)"
            " VALUES (%s, %s, %s, 0, '') ON CONFLICT DO NOTHING RETURNING 1",
            [user, key, print_],
        )
        if await cur.fetchone() is not None:
            return None
        cur = await conn.execute(
            "SELECT fingerprint, status_code, headers::text, body,"
            " created_at < now() - make_interval(secs => %s)"
            " FROM idempotency_keys WHERE user_id = %s AND key = %s",
            [lease, user, key],
        )
        row = await cur.fetchone()
        if row is None:  # released between our insert and select: try once more
            return await _claim(pool, user, key, print_, lease)
        stored_print, status, headers, body, stale = row
        if stored_print != print_:
            # 409 (the draft standard says 422): the request is well formed; the stored key's
            # binding to another request is state, which the API's schema cannot state.
            raise ReferenceConflict(
                f"this {HEADER} was already used for a different request;"
                " use a new key for a new request",
                [{"field": HEADER, "message": "already used for a different request"}],
            )
        if status == 0:
            if stale:
                cur = await conn.execute(
                    "UPDATE idempotency_keys SET created_at = now()"
                    " WHERE user_id = %s AND key = %s AND status_code = 0 RETURNING 1",
                    [user, key],
                )
                if await cur.fetchone() is not None:
                    return None
            raise Conflict(
                f"a request with this {HEADER} is still being processed; retry in a moment"
            )
        headers_map: dict[str, str] = msgspec.json.decode(headers)
        media_type = headers_map.pop("content-type", "application/json")
        return Reply(status=status, body=bytes(body), headers=headers_map, media_type=media_type)


async def _store(pool: AsyncConnectionPool[Any], user: str, key: str, reply: Reply) -> None:
    headers = {**reply.headers, "content-type": reply.media_type}
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET status_code = %s, headers = %s::jsonb, body = %s"
            " WHERE user_id = %s AND key = %s",
            [reply.status, msgspec.json.encode(headers).decode(), reply.body, user, key],
        )


async def _release(pool: AsyncConnectionPool[Any], user: str, key: str) -> None:
    try:
        async with pool.connection() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE user_id = %s AND key = %s AND status_code = 0",
                [user, key],
            )
    except Exception as exc:  # the claim's lease runs out and a retry takes it over
        log.warning("could not release idempotency key: %s", exc)


async def purge_forever(pool: AsyncConnectionPool[Any], keep_hours: float) -> None:
    """Deletes stored answers older than `keep_hours`, hourly, until cancelled. Every API
    process may run it: the deletes are idempotent."""
    while True:
        try:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "DELETE FROM idempotency_keys"
                    " WHERE created_at < now() - make_interval(secs => %s)",
                    [keep_hours * 3600],
                )
                if cur.rowcount:
                    log.info("purged %d idempotency keys older than %g h", cur.rowcount, keep_hours)
        except Exception as exc:  # the database is away: try again next time
            log.warning("could not purge old idempotency keys: %s", exc)
        await asyncio.sleep(PURGE_EVERY_SECONDS)
