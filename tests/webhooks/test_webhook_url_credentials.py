"""A webhook URL with a token in it: deliveries carry the token, nothing recorded or shown does."""

from __future__ import annotations

import io

import aiohttp

from adpipe.api.keys import create_key
from adpipe.context import Core
from adpipe.replay.cli import run as replay
from webhooks.kit import StartService, eventually, running_api
from webhooks.receiver import Receiver

TOKEN = "T2-hook-5rq"
NEW_TOKEN = "T3-hook-j2w"
NO_BODY = {"Content-Type": "application/json"}


async def the_log(core: Core) -> str:
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT data::text, metadata::text FROM events ORDER BY position")
        return "\n".join(f"{d}\n{m}" for d, m in await cur.fetchall())


async def kept(core: Core, webhook_id: str) -> list[str]:
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT url FROM url_secrets WHERE kind = 'webhook' AND owner_id = %s", [webhook_id]
        )
        return [r[0] for r in await cur.fetchall()]


async def test_a_webhook_url_token_reaches_the_receiver_and_is_never_recorded_or_shown(
    core: Core,
    database_url: str,
    read_model: None,
    receiver: Receiver,
    start_service: StartService,
) -> None:
    key = await create_key(core.pool, "alice")
    receiver.required_query["/hook"] = {"token": TOKEN}
    full = f"{receiver.url()}?token={TOKEN}"
    shown = f"{receiver.url()}?token=***"
    await start_service()
    headers = {"Authorization": f"Bearer {key}"}
    async with running_api(core) as base, aiohttp.ClientSession(headers=headers) as http:
        hooks = f"{base}/api/v3/webhooks"
        async with http.post(hooks, json={"url": full, "events": ["webhook.test"]}) as r:
            assert r.status == 201, await r.text()
            created_text = await r.text()
            created = await r.json()
        assert created["url"] == shown
        receiver.secrets["/hook"] = created["secret"]
        one = f"{hooks}/{created['id']}"
        assert await kept(core, created["id"]) == [full]

        async with http.post(f"{one}/test", headers=NO_BODY) as r:
            assert r.status == 202, await r.text()
        await eventually(lambda: len(receiver.calls) == 1)
        assert receiver.calls[0].query == {"token": TOKEN} and receiver.rejected == []

        answers = [created_text]
        for path in (one, hooks, f"{one}/deliveries"):
            async with http.get(path) as r:
                assert r.status == 200
                answers.append(await r.text())
        assert all(TOKEN not in answer for answer in answers), answers
        assert shown in answers[1]

        # A new token alone: the shown URL stays the same, the deliveries carry the new one.
        receiver.required_query["/hook"] = {"token": NEW_TOKEN}
        async with http.put(one, json={"url": f"{receiver.url()}?token={NEW_TOKEN}"}) as r:
            assert r.status == 200, await r.text()
            updated = await r.text()
        assert NEW_TOKEN not in updated and shown in updated
        async with http.post(f"{one}/test", headers=NO_BODY) as r:
            assert r.status == 202
        await eventually(lambda: len(receiver.calls) == 2)
        assert receiver.calls[1].query == {"token": NEW_TOKEN}

        log = await the_log(core)
        assert TOKEN not in log and NEW_TOKEN not in log and shown in log
        out, err = io.StringIO(), io.StringIO()
        assert await replay(["export", "--database-url", database_url], out=out, err=err) == 0
        assert "webhook.subscribed" in out.getvalue()
        assert TOKEN not in out.getvalue() and NEW_TOKEN not in out.getvalue()

        async with http.delete(one) as r:
            assert r.status == 204
        assert await kept(core, created["id"]) == []
