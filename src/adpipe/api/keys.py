"""API keys: `adp_<id>_<secret>`, stored only as a SHA-256 hash; each belongs to one user.

The id part is not secret, so a key can be revoked by its id (shown by `list_keys`) or by itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from adpipe.errors import ValidationFailed

PREFIX = "adp_"
_USER_MAX = 200


class KeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user_id: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@contextlib.asynccontextmanager
async def _connection(
    conninfo_or_pool: str | AsyncConnectionPool[Any],
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    if isinstance(conninfo_or_pool, str):
        async with await psycopg.AsyncConnection.connect(conninfo_or_pool, autocommit=True) as c:
            yield c
    else:
        async with conninfo_or_pool.connection() as conn:
            yield conn


async def create_key(conninfo_or_pool: str | AsyncConnectionPool[Any], user: str) -> str:
    """A new key for `user`; the only time the key itself is seen."""
    user = user.strip()
    if not user or len(user) > _USER_MAX or not user.isprintable():
        raise ValidationFailed(
            "a user name is 1 to 200 printable characters",
            [{"field": "user", "message": "1 to 200 printable characters"}],
        )
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    async with _connection(conninfo_or_pool) as conn:
        await conn.execute(
            "INSERT INTO api_keys (id, user_id, key_hash) VALUES (%s, %s, %s)",
            [key_id, user, hash_key(token)],
        )
    return token


async def revoke_key(conninfo_or_pool: str | AsyncConnectionPool[Any], key_or_id: str) -> bool:
    """Revokes a key given itself or its id; False when there is no such live key."""
    key_or_id = key_or_id.strip()
    if not key_or_id or "\x00" in key_or_id:
        return False
    async with _connection(conninfo_or_pool) as conn:
        cur = await conn.execute(
            "UPDATE api_keys SET revoked_at = now()"
            " WHERE (id = %s OR key_hash = %s) AND revoked_at IS NULL RETURNING id",
            [key_or_id, hash_key(key_or_id)],
        )
        return await cur.fetchone() is not None


async def list_keys(
    conninfo_or_pool: str | AsyncConnectionPool[Any], user: str | None = None
) -> list[KeyInfo]:
    """Every key (of `user`, if given), newest first; never the keys themselves."""
    async with _connection(conninfo_or_pool) as conn:
        cur = await conn.execute(
            "SELECT id, user_id, created_at, revoked_at FROM api_keys"
            " WHERE %s::text IS NULL OR user_id = %s ORDER BY created_at DESC, id",
            [user, user],
        )
        rows = await cur.fetchall()
    return [KeyInfo(id=r[0], user_id=r[1], created_at=r[2], revoked_at=r[3]) for r in rows]


async def authenticate(pool: AsyncConnectionPool[Any], token: str) -> str | None:
    """The user a live key belongs to, or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT user_id FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
            [hash_key(token)],
        )
        row = await cur.fetchone()
    return str(row[0]) if row else None
