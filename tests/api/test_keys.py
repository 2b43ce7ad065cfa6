"""API keys: random, stored hashed, revocable by themselves or their id."""

from __future__ import annotations

import hashlib

import pytest

from adpipe.api.keys import authenticate, create_key, list_keys, revoke_key
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
