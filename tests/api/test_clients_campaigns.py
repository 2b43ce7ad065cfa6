"""Clients and campaigns: create, read back at once, pages, replace, delete, stats."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adpipe.api import reads
from adpipe.context import Core
from adpipe.events.party import CampaignCreated, CampaignProfile, ClientDeleted
from adpipe.storage.eventstore import NO_STREAM

from .conftest import Client, job_body, new_client

CLIENTS = "/api/v3/clients"
CAMPAIGNS = "/api/v3/campaigns"


async def test_a_created_client_reads_back_at_once_with_a_location(alice: Client) -> None:
    body = {
        "name": "ACME",
        "description": "Watches",
        "website": "https://acme.example",
        "brandColors": ["#FF0000"],
    }
    created = await alice.post(CLIENTS, json=body)
    assert created.status == 201
    client = created.json()
    assert client["name"] == "ACME" and client["brandColors"] == ["#ff0000"]
    assert created.headers["Location"] == f"{CLIENTS}/{client['id']}"
    fetched = await alice.get(created.headers["Location"])
    assert fetched.status == 200 and fetched.json() == client
    assert set(client) == {
        "id",
        "name",
        "description",
        "website",
        "brandColors",
        "createdAt",
        "updatedAt",
    }


async def test_clients_list_in_pages_newest_first(alice: Client) -> None:
    ids = [await new_client(alice, f"client {i}") for i in range(5)]
    first = (await alice.get(f"{CLIENTS}?page=1&pageSize=2")).json()
    assert first["total"] == 5 and first["page"] == 1 and first["pageSize"] == 2
    assert [c["id"] for c in first["items"]] == ids[::-1][:2]
    last = (await alice.get(f"{CLIENTS}?page=3&pageSize=2")).json()
    assert [c["id"] for c in last["items"]] == [ids[0]]
    beyond = (await alice.get(f"{CLIENTS}?page=9&pageSize=2")).json()
    assert beyond["items"] == [] and beyond["total"] == 5


async def test_page_size_over_100_is_a_422_naming_the_parameter(alice: Client) -> None:
    answer = await alice.get(f"{CLIENTS}?pageSize=101")
    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["pageSize"]


async def test_put_replaces_the_whole_client_and_validates_it(alice: Client) -> None:
    client_id = await new_client(alice)
    url = f"{CLIENTS}/{client_id}"
    put = await alice.put(url, json={"name": "ACME 2", "website": "https://acme.example"})
    assert put.status == 200
    assert put.json()["name"] == "ACME 2" and put.json()["description"] == ""
    assert (await alice.get(url)).json()["name"] == "ACME 2"
    bad = await alice.put(url, json={"name": " ", "brandColors": ["red"]})
    assert bad.status == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields <= {"name", "brandColors[0]"} and fields
    assert (await alice.get(url)).json()["name"] == "ACME 2"


async def test_deleting_a_client_with_campaigns_or_active_jobs_is_a_409_saying_why(
    alice: Client,
) -> None:
    client_id = await new_client(alice)
    campaign = await alice.post(CAMPAIGNS, json={"clientId": client_id, "name": "Q4"})
    assert campaign.status == 201
    refused = await alice.delete(f"{CLIENTS}/{client_id}")
    assert refused.status == 409
    assert "1 campaign" in refused.json()["detail"]
    assert (await alice.delete(f"{CAMPAIGNS}/{campaign.json()['id']}")).status == 204
    job = await alice.post("/api/v3/jobs", json=job_body(client_id))
    refused = await alice.delete(f"{CLIENTS}/{client_id}")
    assert refused.status == 409 and "1 unfinished job" in refused.json()["detail"]
    cancel = await alice.post(f"/api/v3/jobs/{job.json()['id']}/actions", json={"action": "cancel"})
    assert cancel.status == 200
    assert (await alice.delete(f"{CLIENTS}/{client_id}")).status == 204
    assert (await alice.get(f"{CLIENTS}/{client_id}")).status == 404
    assert (await alice.delete(f"{CLIENTS}/{client_id}")).status == 404


async def test_a_campaign_created_while_its_client_is_deleted_is_never_orphaned(
    alice: Client, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete has checked the read models and found nothing; before it appends, a campaign
    for the client commits (a create in flight). The delete must notice, not orphan it."""
    client_id = await new_client(alice)
    checked = reads.client_dependents
    raced: list[str] = []

    async def check_then_race(pool: Any, owner: str, client: str) -> tuple[int, int]:
        found = await checked(pool, owner, client)
        if not raced:
            campaign_id = str(uuid.uuid4())
            created = CampaignCreated(
                campaign_id=campaign_id,
                user_id=owner,
                client_id=client,
                profile=CampaignProfile(name="In flight"),
            )
            await core.store.append(f"campaign-{campaign_id}", [created], NO_STREAM)
            raced.append(campaign_id)
        return found

    monkeypatch.setattr(reads, "client_dependents", check_then_race)
    refused = await alice.delete(f"{CLIENTS}/{client_id}")

    assert raced
    assert refused.status == 409 and "1 campaign" in refused.json()["detail"]
    assert (await alice.get(f"{CLIENTS}/{client_id}")).status == 200
    assert (await alice.get(f"{CAMPAIGNS}/{raced[0]}")).json()["clientId"] == client_id


async def test_a_campaign_whose_client_is_deleted_mid_request_is_refused(
    alice: Client, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create has seen its client alive; before it appends, the client is deleted."""
    client_id = await new_client(alice)
    seen = reads.client

    async def see_then_delete(pool: Any, owner: str, client: str) -> Any:
        found = await seen(pool, owner, client)
        stream = f"client-{client}"
        version = await core.store.stream_version(stream)
        await core.store.append(stream, [ClientDeleted()], version)
        return found

    monkeypatch.setattr(reads, "client", see_then_delete)
    refused = await alice.post(CAMPAIGNS, json={"clientId": client_id, "name": "Late"})

    assert refused.status == 409 and "was deleted" in refused.json()["detail"]
    created = [e for e in await core.store.read_all(0, 1000) if e.type == "campaign.created"]
    assert created == []


async def test_campaigns_filter_by_client_and_belong_to_an_existing_client(alice: Client) -> None:
    acme, globex = await new_client(alice, "ACME"), await new_client(alice, "Globex")
    body = {
        "clientId": acme,
        "name": "Q4 launch",
        "budget": 5000,
        "startDate": "2025-10-01",
        "endDate": "2025-12-31",
    }
    created = await alice.post(CAMPAIGNS, json=body)
    assert created.status == 201
    campaign = created.json()
    assert campaign["startDate"] == "2025-10-01" and campaign["budget"] == 5000
    await alice.post(CAMPAIGNS, json={"clientId": globex, "name": "Other"})
    mine = (await alice.get(f"{CAMPAIGNS}?clientId={acme}")).json()
    assert [c["id"] for c in mine["items"]] == [campaign["id"]] and mine["total"] == 1
    assert (await alice.get(CAMPAIGNS)).json()["total"] == 2
    unknown = await alice.post(CAMPAIGNS, json={"clientId": "nope", "name": "X"})
    assert unknown.status == 409 and unknown.json()["errors"][0]["field"] == "clientId"
    backwards = await alice.post(
        CAMPAIGNS,
        json={**body, "startDate": "2026-01-01", "endDate": "2025-01-01"},
    )
    assert backwards.status == 422 and backwards.json()["errors"][0]["field"] == "endDate"


async def test_a_campaign_cannot_move_to_another_client(alice: Client) -> None:
    acme, globex = await new_client(alice, "ACME"), await new_client(alice, "Globex")
    campaign = (await alice.post(CAMPAIGNS, json={"clientId": acme, "name": "Q4"})).json()
    url = f"{CAMPAIGNS}/{campaign['id']}"
    moved = await alice.put(url, json={"clientId": globex, "name": "Q4"})
    assert moved.status == 409
    renamed = await alice.put(url, json={"clientId": acme, "name": "Q1", "objective": "reach"})
    assert renamed.status == 200 and renamed.json()["objective"] == "reach"


async def test_stats_count_jobs_by_status_videos_seconds_cost_and_assets(alice: Client) -> None:
    client_id = await new_client(alice)
    campaign = (await alice.post(CAMPAIGNS, json={"clientId": client_id, "name": "Q4"})).json()
    body = job_body(client_id, durationSeconds=12)
    body["context"]["campaignId"] = campaign["id"]
    job = (await alice.post("/api/v3/jobs", json=body)).json()
    other = (await alice.post("/api/v3/jobs", json=job_body(client_id))).json()
    await alice.post(f"/api/v3/jobs/{other['id']}/actions", json={"action": "cancel"})
    approved = await alice.post(
        f"/api/v3/jobs/{job['id']}/actions", json={"action": "approve_storyboard"}
    )
    assert approved.status == 200
    done = await _until_completed(alice, job["id"])
    stats = (await alice.get(f"{CLIENTS}/{client_id}/stats")).json()
    assert stats["clientId"] == client_id and stats["campaigns"] == 1
    assert stats["totalJobs"] == 2 and stats["completedVideos"] == 1
    assert stats["jobsByStatus"]["completed"] == 1 and stats["jobsByStatus"]["cancelled"] == 1
    assert stats["jobsByStatus"]["pending"] == 0
    assert stats["totalSecondsRendered"] == 12
    # The rendered job's cost (12 s of 1080p at $0.04 a second; planning and voice are free
    # here), and nothing for the cancelled one.
    assert done["cost"]["breakdown"]["rendering"] == pytest.approx(0.48)
    assert stats["totalCost"] == pytest.approx(done["cost"]["total"])
    assert stats["currency"] == "USD" and stats["assets"] == 0
    campaign_stats = (await alice.get(f"{CAMPAIGNS}/{campaign['id']}/stats")).json()
    assert campaign_stats["totalJobs"] == 1 and campaign_stats["clientId"] == client_id


async def _until_completed(user: Client, job_id: str) -> dict[str, Any]:
    import asyncio

    for _ in range(1200):  # a minute: the real renderer, on a machine that may be busy
        job = (await user.get(f"/api/v3/jobs/{job_id}")).json()
        if job["status"] == "completed":
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not complete: {job}")
