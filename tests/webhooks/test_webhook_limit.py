"""A user has at most max_webhooks_per_user subscriptions; the next answers 429, others are free."""

from __future__ import annotations

import aiohttp
import msgspec

from adpipe.api.keys import create_key
from adpipe.context import Core
from webhooks.kit import running_api
from webhooks.receiver import Receiver


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_webhooks_per_user_are_capped(
    core: Core, read_model: None, receiver: Receiver
) -> None:
    core.settings = msgspec.structs.replace(core.settings, max_webhooks_per_user=2)
    alice, bob = await create_key(core.pool, "alice"), await create_key(core.pool, "bob")
    body = {"url": receiver.url(), "events": ["job.*"]}
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        hooks = f"{base}/api/v3/webhooks"
        for _ in range(2):
            async with http.post(hooks, json=body, headers=auth(alice)) as r:
                assert r.status == 201, await r.text()
                last = (await r.json())["id"]
        async with http.post(hooks, json=body, headers=auth(alice)) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
            assert "delete one" in (await r.json())["detail"]
        async with http.post(hooks, json=body, headers=auth(bob)) as r:
            assert r.status == 201  # another user is unaffected
        async with http.delete(f"{hooks}/{last}", headers=auth(alice)) as r:
            assert r.status == 204
        async with http.post(hooks, json=body, headers=auth(alice)) as r:
            assert r.status == 201
