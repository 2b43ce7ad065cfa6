"""API keys: `adp_<id>_<secret>`, stored only as a SHA-256 hash; each belongs to one user.

The id part is not secret, so a key can be revoked by its id (shown by `list_keys`) or by itself.

`authenticate` may answer from `KEY_CACHE`, this process's memory of keys it recently found live,
for at most `cache_seconds` (the API passes `api_key_cache_seconds`, 1 s): every request checks a
key, and a query per request was the largest part of a read's cost. A revocation made by this
process (`revoke_key`) forgets the key at once; one made elsewhere (another API process, the
`adpipe keys` command) is seen as soon as the entry expires. Unknown keys are never remembered,
so a key just created works on its first request.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
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


class KeyCache:
    """Live keys seen lately: key hash -> (key id, user, when it was read from Postgres)."""

    # Beyond this many keys the memory is simply emptied: a cache miss costs one query.
    MAX_KEYS = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._keys: dict[str, tuple[str, str, float]] = {}
        # Bumped by every revocation here: a lookup that raced one is not remembered.
        self.revocations = 0

    def user(self, key_hash: str, max_age: float) -> str | None:
        entry = self._keys.get(key_hash)
        if entry is None:
            return None
        if self.clock() - entry[2] >= max_age:
            del self._keys[key_hash]
            return None
        return entry[1]

    def remember(
        self, key_hash: str, key_id: str, user: str, read_at: float, revocations: int
    ) -> None:
        if revocations != self.revocations:
            return  # a key was revoked while this one was read: it may have been this one
        if len(self._keys) >= self.MAX_KEYS:
            self._keys.clear()
        self._keys[key_hash] = (key_id, user, read_at)

    def forget(self, key_id: str) -> None:
        self.revocations += 1
        for key_hash in [h for h, entry in self._keys.items() if entry[0] == key_id]:
            del self._keys[key_hash]

    def clear(self) -> None:
        self._keys.clear()


KEY_CACHE = KeyCache()


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
        row = await cur.fetchone()
    if row is None:
        return False
    KEY_CACHE.forget(str(row[0]))  # this process stops accepting it now, not in a second
    return True


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


async def authenticate(
    pool: AsyncConnectionPool[Any],
    token: str,
    *,
    cache_seconds: float = 0.0,
    cache: KeyCache = KEY_CACHE,
) -> str | None:
    """The user a live key belongs to, or None. With `cache_seconds` > 0 a key found live within
    that many seconds is trusted without asking Postgres again."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    key_hash = hash_key(token)
    if cache_seconds > 0 and (user := cache.user(key_hash, cache_seconds)) is not None:
        return user
    # Stamped before the query: an entry never outlives a revocation by more than its age.
    read_at, revocations = cache.clock(), cache.revocations
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, user_id FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
            [key_hash],
        )
        row = await cur.fetchone()
    if row is None:
        return None
    if cache_seconds > 0:
        cache.remember(key_hash, str(row[0]), str(row[1]), read_at, revocations)
    return str(row[1])
