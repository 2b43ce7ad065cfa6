"""API keys: random, stored hashed, revocable by themselves or their id."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys

import pytest

from adpipe.api.keys import KeyCache, authenticate, create_key, list_keys, revoke_key
from adpipe.context import Core
from adpipe.errors import ValidationFailed


async def test_a_key_authenticates_its_user_until_revoked(core: Core) -> None:
    key = await create_key(core.pool, "alice")
    assert key.startswith("adp_") and len(key) > 40
    assert await authenticate(core.pool, key) == "alice"
    assert await authenticate(core.pool, key + "x") is None
    assert await authenticate(core.pool, "not-a-key") is None
    async with core.pool.connection() as conn:
        rows = await (await conn.execute("SELECT key_hash FROM api_keys")).fetchall()
    assert rows == [(hashlib.sha256(key.encode()).hexdigest(),)]  # never the key itself
    assert await revoke_key(core.pool, key)
    assert await authenticate(core.pool, key) is None


async def test_keys_are_revoked_by_id_and_listed_without_secrets(
    core: Core, database_url: str
) -> None:
    first = await create_key(database_url, "alice")
    second = await create_key(core.pool, "alice")
    await create_key(core.pool, "bob")
    keys = await list_keys(core.pool, "alice")
    assert len(keys) == 2 and all(k.user_id == "alice" for k in keys)
    key_id = first.split("_")[1]
    assert key_id in {k.id for k in keys}
    assert await revoke_key(database_url, key_id)
    assert not await revoke_key(database_url, key_id)
    assert await authenticate(core.pool, first) is None
    assert await authenticate(core.pool, second) == "alice"
    assert len(await list_keys(core.pool)) == 3


async def test_a_user_name_must_be_printable(core: Core) -> None:
    with pytest.raises(ValidationFailed):
        await create_key(core.pool, " ")
    with pytest.raises(ValidationFailed):
        await create_key(core.pool, "a\x00b")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _revoke_in_another_process(database_url: str, key_or_id: str) -> None:
    """`adpipe keys revoke`, as an operator would run it beside the API: its own process."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "adpipe.cli", "keys", "revoke", key_or_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "revoked" in done.stdout, done.stderr


async def test_a_cached_key_revoked_here_is_refused_at_once(core: Core) -> None:
    cache = KeyCache(clock=FakeClock())
    key = await create_key(core.pool, "alice")
    assert await authenticate(core.pool, key, cache_seconds=60, cache=cache) == "alice"
    async with core.pool.connection() as conn:  # the next answer comes from memory
        await conn.execute("DELETE FROM api_keys")
    assert await authenticate(core.pool, key, cache_seconds=60, cache=cache) == "alice"
    cache.forget(key.split("_")[1])  # what revoke_key does to the process's cache
    assert await authenticate(core.pool, key, cache_seconds=60, cache=cache) is None


async def test_revoke_key_forgets_the_key_in_this_process(core: Core) -> None:
    key = await create_key(core.pool, "alice")
    assert await authenticate(core.pool, key, cache_seconds=3600) == "alice"
    assert await revoke_key(core.pool, key.split("_")[1])
    assert await authenticate(core.pool, key, cache_seconds=3600) is None


async def test_a_key_revoked_by_another_process_is_refused_within_the_cache_bound(
    core: Core, database_url: str
) -> None:
    clock = FakeClock()
    cache = KeyCache(clock=clock)
    key = await create_key(core.pool, "alice")
    assert await authenticate(core.pool, key, cache_seconds=1.0, cache=cache) == "alice"
    await _revoke_in_another_process(database_url, key)
    clock.now += 0.5  # within the bound this process may not know yet
    assert await authenticate(core.pool, key, cache_seconds=1.0, cache=cache) == "alice"
    clock.now += 0.5  # one second after it was read, the key is asked about again
    assert await authenticate(core.pool, key, cache_seconds=1.0, cache=cache) is None


async def test_unknown_keys_are_not_remembered(core: Core) -> None:
    cache = KeyCache(clock=FakeClock())
    token = "adp_0123456789ab_" + "x" * 43
    assert await authenticate(core.pool, token, cache_seconds=60, cache=cache) is None
    async with core.pool.connection() as conn:  # the same key, created after it was refused
        await conn.execute(
            "INSERT INTO api_keys (id, user_id, key_hash) VALUES (%s, %s, %s)",
            ["0123456789ab", "alice", hashlib.sha256(token.encode()).hexdigest()],
        )
    assert await authenticate(core.pool, token, cache_seconds=60, cache=cache) == "alice"
