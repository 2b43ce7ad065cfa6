"""API keys on every /api/v3 route, and users who never see each other's resources."""

from __future__ import annotations

import pytest

from adpipe.api.keys import KEY_CACHE, revoke_key
from adpipe.context import Core

from .conftest import Client, job_body, new_client
from .media import png
from .test_actions import act, until_status
from .test_assets import upload


async def test_every_route_needs_a_live_key(alice: Client, anonymous: Client, core: Core) -> None:
    for path in ("/api/v3/clients", "/api/v3/jobs", "/api/v3/assets", "/api/v3/campaigns"):
        answer = await anonymous.get(path)
        assert answer.status == 401, path
        assert answer.content_type == "application/problem+json"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    wrong = await anonymous.get("/api/v3/jobs", headers={"Authorization": "Bearer adp_nope"})
    assert wrong.status == 401 and "revoked" in wrong.json()["detail"]
    basic = await anonymous.get("/api/v3/jobs", headers={"Authorization": "Basic YTpi"})
    assert basic.status == 401
    assert (await alice.get("/api/v3/jobs")).status == 200
    assert alice.key is not None
    assert await revoke_key(core.pool, alice.key)
    assert (await alice.get("/api/v3/jobs")).status == 401
    assert not await revoke_key(core.pool, alice.key)


async def test_a_key_revoked_by_another_process_is_refused_within_a_second(
    alice: Client, core: Core, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API remembers a live key for api_key_cache_seconds (1 s); `adpipe keys revoke` in
    another process is honoured once that has passed (the clock is the cache's, moved by hand)."""
    from .test_keys import FakeClock, _revoke_in_another_process

    clock = FakeClock()
    monkeypatch.setattr(KEY_CACHE, "clock", clock)
    assert core.settings.api_key_cache_seconds == 1.0
    assert (await alice.get("/api/v3/clients")).status == 200
    assert alice.key is not None
    await _revoke_in_another_process(database_url, alice.key)
    clock.now += 0.9
    assert (await alice.get("/api/v3/clients")).status == 200  # within the second: remembered
    clock.now += 0.1
    assert (await alice.get("/api/v3/clients")).status == 401


async def test_health_and_schema_need_no_key(anonymous: Client) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok", "checks": {}}
    assert (await anonymous.get("/readyz")).status == 200
    schema = (await anonymous.get("/schema/openapi.json")).json()
    assert "/api/v3/jobs/{job_id}/actions" in schema["paths"]
    assert "head" in schema["paths"]["/api/v3/jobs/{job_id}/video"]
    operations = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert len(operations) == len(set(operations))  # generated clients need unique names


async def test_another_users_resources_answer_404_everywhere(alice: Client, bob: Client) -> None:
    client_id = await new_client(alice)
    campaign = (
        await alice.post("/api/v3/campaigns", json={"clientId": client_id, "name": "Q4"})
    ).json()
    asset = await upload(alice, png(), clientId=client_id)
    # Short and 720p: the video only has to exist, and the real renderer makes it.
    body = job_body(client_id, assets=[{"id": asset["id"]}], durationSeconds=6, resolution="720p")
    job = (await alice.post("/api/v3/jobs", json=body)).json()
    await act(alice, job["id"], action="approve_storyboard")
    await until_status(alice, job["id"], "completed")

    jobs = f"/api/v3/jobs/{job['id']}"
    reads = [
        f"/api/v3/clients/{client_id}",
        f"/api/v3/clients/{client_id}/stats",
        f"/api/v3/campaigns/{campaign['id']}",
        f"/api/v3/campaigns/{campaign['id']}/stats",
        f"/api/v3/assets/{asset['id']}",
        f"/api/v3/assets/{asset['id']}/data",
        f"/api/v3/assets/{asset['id']}/thumbnail",
        jobs,
        f"{jobs}/video",
        f"{jobs}/scenes",
        f"{jobs}/scenes/1",
    ]
    for path in reads:
        answer = await bob.get(path)
        assert answer.status == 404, path
        assert answer.content_type == "application/problem+json"
        assert (await alice.get(path)).status == 200, path
    writes = [
        ("PUT", f"/api/v3/clients/{client_id}", {"name": "mine now"}),
        ("DELETE", f"/api/v3/clients/{client_id}", None),
        ("PUT", f"/api/v3/campaigns/{campaign['id']}", {"clientId": client_id, "name": "x"}),
        ("DELETE", f"/api/v3/campaigns/{campaign['id']}", None),
        ("DELETE", f"/api/v3/assets/{asset['id']}", None),
        ("POST", f"{jobs}/actions", {"action": "cancel"}),
        ("PUT", f"{jobs}/scenes/1", {"script": "mine"}),
    ]
    for method, path, payload in writes:
        answer = await bob.request(method, path, json=payload)
        assert answer.status == 404, (method, path, answer.body)

    for path in ("/api/v3/clients", "/api/v3/campaigns", "/api/v3/assets", "/api/v3/jobs"):
        page = (await bob.get(path)).json()
        assert page["items"] == [] and page["total"] == 0, path
    for query in (f"clientId={client_id}", f"campaignId={campaign['id']}"):
        assert (await bob.get(f"/api/v3/jobs?{query}")).json()["total"] == 0
        assert (await bob.get(f"/api/v3/assets?{query}")).json()["total"] == 0
    assert (await bob.get(f"/api/v3/campaigns?clientId={client_id}")).json()["total"] == 0

    borrowed = await bob.post("/api/v3/campaigns", json={"clientId": client_id, "name": "x"})
    assert borrowed.status == 409  # a well-formed body naming someone else's client
    bobs_client = await new_client(bob)
    uses_alices_asset = await bob.post(
        "/api/v3/jobs", json=job_body(bobs_client, assets=[{"id": asset["id"]}])
    )
    assert uses_alices_asset.status == 409
    stats = (await bob.get(f"/api/v3/clients/{bobs_client}/stats")).json()
    assert stats["totalJobs"] == 0 and stats["assets"] == 0
