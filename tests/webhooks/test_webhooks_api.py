"""/api/v3/webhooks over real HTTP: the whole life of a subscription, ownership and errors."""

from __future__ import annotations

import uuid

import aiohttp

from adpipe.api.keys import create_key
from adpipe.context import Core
from webhooks.jobkit import append_each, lifecycle
from webhooks.kit import StartService, eventually, running_api
from webhooks.receiver import Receiver

PROBLEM = "application/problem+json"
# aiohttp labels an empty POST application/octet-stream, which the API's media-type check refuses.
NO_BODY = {"Content-Type": "application/json"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_subscription_from_creation_to_deletion(
    core: Core, read_model: None, receiver: Receiver, start_service: StartService
) -> None:
    key = await create_key(core.pool, "alice")
    await start_service()
    async with running_api(core) as base, aiohttp.ClientSession(headers=auth(key)) as http:
        hooks = f"{base}/api/v3/webhooks"
        body = {"url": receiver.url(), "events": ["job.*"], "description": "CI"}
        async with http.post(hooks, json=body) as r:
            assert r.status == 201, await r.text()
            created = await r.json()
            assert r.headers["location"] == f"/api/v3/webhooks/{created['id']}"
        assert created["secret"].startswith("whsec_")
        assert created["events"] == ["job.*"] and created["enabled"] is True
        receiver.secrets["/hook"] = created["secret"]
        one = f"{hooks}/{created['id']}"

        async with http.get(hooks) as r:
            page = await r.json()
        assert page["total"] == 1 and page["pageSize"] == 20
        assert page["items"][0]["id"] == created["id"] and "secret" not in page["items"][0]

        async with http.put(one, json={"events": ["job.*", "webhook.test"]}) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["events"] == ["job.*", "webhook.test"]

        async with http.post(f"{one}/test", headers=NO_BODY) as r:
            assert r.status == 202
            test_event = (await r.json())["eventId"]
        await eventually(lambda: [p["id"] for p in receiver.payloads()] == [test_event])

        async with http.get(f"{one}/deliveries") as r:
            deliveries = await r.json()
        (delivery,) = deliveries["items"]
        assert delivery["eventType"] == "webhook.test" and delivery["status"] == "delivered"
        (attempt,) = delivery["attempts"]
        assert attempt["statusCode"] == 204 and attempt["latencyMs"] >= 0
        assert attempt["error"] is None and attempt["nextRetryAt"] is None

        async with http.post(f"{one}/deliveries/{delivery['id']}/retry", headers=NO_BODY) as r:
            assert r.status == 202
        await eventually(lambda: len(receiver.payloads()) == 2)
        assert receiver.calls[1].message_id == test_event  # the same webhook-id: deduplicable

        async with http.post(f"{one}/rotate-secret", headers=NO_BODY) as r:
            assert r.status == 200
            rotated = await r.json()
        assert rotated["secret"] != created["secret"] and rotated["previousSecretExpiresAt"]

        async with http.delete(one) as r:
            assert r.status == 204
        async with http.get(one) as r:
            assert r.status == 404
            assert r.content_type == PROBLEM
        async with http.get(hooks) as r:
            assert (await r.json())["total"] == 0


async def test_another_users_webhooks_answer_404(
    core: Core, read_model: None, receiver: Receiver
) -> None:
    alice, bob = await create_key(core.pool, "alice"), await create_key(core.pool, "bob")
    async with running_api(core) as base, aiohttp.ClientSession() as http:
        hooks = f"{base}/api/v3/webhooks"
        async with http.post(
            hooks, json={"url": receiver.url(), "events": ["*"]}, headers=auth(alice)
        ) as r:
            webhook_id = (await r.json())["id"]
        one = f"{hooks}/{webhook_id}"
        for method, url in (
            ("GET", one),
            ("PUT", one),
            ("DELETE", one),
            ("POST", f"{one}/rotate-secret"),
            ("POST", f"{one}/test"),
            ("GET", f"{one}/deliveries"),
            ("POST", f"{one}/deliveries/{uuid.uuid4()}/retry"),
        ):
            body = {"enabled": False} if method == "PUT" else None
            headers = {**auth(bob), **NO_BODY}
            async with http.request(method, url, json=body, headers=headers) as r:
                assert r.status == 404, (method, url, await r.text())
                assert r.content_type == PROBLEM
        async with http.get(hooks, headers=auth(bob)) as r:
            assert (await r.json())["total"] == 0
        async with http.get(one) as r:
            assert r.status == 401


async def test_invalid_subscriptions_answer_422_with_the_fields(
    core: Core, read_model: None
) -> None:
    key = await create_key(core.pool, "alice")
    async with running_api(core) as base, aiohttp.ClientSession(headers=auth(key)) as http:
        hooks = f"{base}/api/v3/webhooks"
        async with http.post(
            hooks, json={"url": "http://127.0.0.1:1/x", "events": ["job.*", "job.nope"]}
        ) as r:
            assert r.status == 422 and r.content_type == PROBLEM
            problem = await r.json()
        assert [e["field"] for e in problem["errors"]] == ["events[1]"]
        async with http.post(hooks, json={"url": "ftp://x.test/", "events": ["*"]}) as r:
            assert r.status == 422
            assert [e["field"] for e in (await r.json())["errors"]] == ["url"]
        async with http.post(hooks, json={"url": "http://127.0.0.1:1/x", "events": []}) as r:
            assert r.status == 422
            assert (await r.json())["errors"][0]["field"] == "events"


async def test_only_the_owners_job_events_reach_a_webhook_made_over_http(
    core: Core, read_model: None, receiver: Receiver, start_service: StartService
) -> None:
    key = await create_key(core.pool, "alice")
    await start_service()
    async with running_api(core) as base, aiohttp.ClientSession(headers=auth(key)) as http:
        async with http.post(
            f"{base}/api/v3/webhooks",
            json={"url": receiver.url(), "events": ["job.render_completed"]},
        ) as r:
            receiver.secrets["/hook"] = (await r.json())["secret"]
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    await append_each(core.store, theirs, lifecycle(theirs, "bob"))
    recorded = await append_each(core.store, mine, lifecycle(mine, "alice"))
    await eventually(lambda: len(receiver.payloads()) == 1)
    assert receiver.payloads()[0]["id"] == recorded[-1].id
