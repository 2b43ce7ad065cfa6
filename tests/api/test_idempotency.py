"""Idempotency-Key: retries get the first answer; nothing runs twice, even concurrently."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from adpipe.context import Core
from adpipe.events.job import SceneRegenerated
from adpipe.jobs import job_stream
from testkit.cdn import Cdn

from .conftest import Client, job_body, new_client
from .media import png
from .test_assets import form


async def test_a_retried_job_creation_gets_the_first_answer_and_one_job(alice: Client) -> None:
    client_id = await new_client(alice)
    headers = {"Idempotency-Key": "create-1"}
    first = await alice.post("/api/v3/jobs", json=job_body(client_id), headers=headers)
    again = await alice.post("/api/v3/jobs", json=job_body(client_id), headers=headers)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await alice.get("/api/v3/jobs")).json()["total"] == 1


async def test_the_same_key_with_another_body_is_refused(alice: Client) -> None:
    client_id = await new_client(alice)
    headers = {"Idempotency-Key": "k"}
    await alice.post("/api/v3/jobs", json=job_body(client_id), headers=headers)
    other = await alice.post(
        "/api/v3/jobs", json=job_body(client_id, durationSeconds=15), headers=headers
    )
    assert other.status == 409 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert (await alice.get("/api/v3/jobs")).json()["total"] == 1


async def test_a_retry_that_reserialises_the_same_body_is_the_same_request(
    alice: Client,
) -> None:
    client_id = await new_client(alice)
    body = job_body(client_id)
    headers = {"Idempotency-Key": "reserialised", "Content-Type": "application/json"}
    first = await alice.post("/api/v3/jobs", json=body, headers=headers)
    shuffled = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    again = await alice.post("/api/v3/jobs", data=shuffled, headers=headers)
    assert first.status == again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == first.body
    assert (await alice.get("/api/v3/jobs")).json()["total"] == 1


async def test_keys_belong_to_their_user(alice: Client, bob: Client) -> None:
    headers = {"Idempotency-Key": "shared"}
    for user in (alice, bob):
        client_id = await new_client(user)
        answer = await user.post("/api/v3/jobs", json=job_body(client_id), headers=headers)
        assert answer.status == 201
    assert (await bob.get("/api/v3/jobs")).json()["total"] == 1


async def test_concurrent_duplicates_run_once(alice: Client, core: Core) -> None:
    client_id = await new_client(alice)
    headers = {"Idempotency-Key": "race"}
    answers = await asyncio.gather(
        *[alice.post("/api/v3/jobs", json=job_body(client_id), headers=headers) for _ in range(5)]
    )
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert (await alice.get("/api/v3/jobs")).json()["total"] == 1
    created = [e for e in await core.store.read_all(0, 1000) if e.type == "job.created"]
    assert len(created) == 1
    in_flight = [a for a in answers if a.status == 409]
    assert all("still being processed" in a.json()["detail"] for a in in_flight)


async def test_a_retried_action_does_not_regenerate_twice(alice: Client, core: Core) -> None:
    client_id = await new_client(alice)
    job = (await alice.post("/api/v3/jobs", json=job_body(client_id))).json()
    url = f"/api/v3/jobs/{job['id']}/actions"
    body = {"action": "regenerate_scene", "sceneNumber": 1, "feedback": "brighter"}
    headers = {"Idempotency-Key": "regen-1"}
    first = await alice.post(url, json=body, headers=headers)
    again = await alice.post(url, json=body, headers=headers)
    assert first.status == again.status == 200 and again.body == first.body
    events = await core.store.read_stream(job_stream(job["id"]))
    assert sum(isinstance(e.data, SceneRegenerated) for e in events) == 1


async def test_a_retried_upload_stores_one_asset(alice: Client, cdn: Cdn) -> None:
    data = png()
    headers = {"Idempotency-Key": "upload-1"}
    first = await alice.post(
        "/api/v3/assets", data=form(data, "a.png", "image/png"), headers=headers
    )
    again = await alice.post(
        "/api/v3/assets", data=form(data, "a.png", "image/png"), headers=headers
    )
    assert first.status == again.status == 201 and first.body == again.body
    url_first = await alice.post(
        "/api/v3/assets",
        json={"url": cdn.url("/a.png")},
        headers={"Idempotency-Key": "u"},
    )
    url_again = await alice.post(
        "/api/v3/assets",
        json={"url": cdn.url("/a.png")},
        headers={"Idempotency-Key": "u"},
    )
    assert url_first.body == url_again.body
    assert (await alice.get("/api/v3/assets")).json()["total"] == 2


async def test_errors_are_replayed_too_but_bad_keys_are_refused(alice: Client) -> None:
    headers = {"Idempotency-Key": "bad-body"}
    first = await alice.post(
        "/api/v3/jobs/nope/actions", json={"action": "cancel"}, headers=headers
    )
    again = await alice.post(
        "/api/v3/jobs/nope/actions", json={"action": "cancel"}, headers=headers
    )
    assert first.status == again.status == 404 and first.body == again.body
    too_long = await alice.post(
        "/api/v3/jobs/nope/actions",
        json={"action": "cancel"},
        headers={"Idempotency-Key": "x" * 300},
    )
    assert too_long.status == 422


async def test_a_retry_after_a_lost_answer_finds_the_job_already_made(
    alice: Client, core: Core, session: aiohttp.ClientSession
) -> None:
    """The first attempt recorded the job but its answer was never stored (a crash): the retry
    derives the same ids from the key, so the event store records nothing new."""
    client_id = await new_client(alice)
    headers = {"Idempotency-Key": "crash"}
    first = await alice.post("/api/v3/jobs", json=job_body(client_id), headers=headers)
    async with core.pool.connection() as conn:
        await conn.execute("DELETE FROM idempotency_keys WHERE key = 'crash'")
    retry = await alice.post("/api/v3/jobs", json=job_body(client_id), headers=headers)
    assert retry.status == 201 and retry.json()["id"] == first.json()["id"]
    created = [e for e in await core.store.read_all(0, 1000) if e.type == "job.created"]
    assert len(created) == 1
