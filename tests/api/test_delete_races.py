"""Deletes and the creations that depend on what they delete never both succeed, and a delete
is only ever held up by work on the very thing it deletes — never by other clients or users."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from adpipe.api import reads
from adpipe.context import Core
from adpipe.events.asset import AssetDeleted
from adpipe.events.job import JobContext
from adpipe.storage.eventstore import NO_STREAM
from webhooks.jobkit import job_created

from .conftest import Client, job_body, new_client
from .media import png
from .test_assets import upload

CLIENTS = "/api/v3/clients"


async def an_asset(user: Client) -> str:
    asset = await upload(user, png())
    return str(asset["id"])


async def test_a_job_created_while_its_asset_is_deleted_keeps_the_asset(
    alice: Client, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete found no job using the asset; before it appends, a job using it commits."""
    client_id, asset_id = await new_client(alice), await an_asset(alice)
    body = job_body(client_id)
    body["creative"]["assets"] = [{"id": asset_id}]
    checked = reads.jobs_using_asset
    raced: list[int] = []

    async def check_then_race(pool: Any, owner: str, asset: str) -> list[str]:
        found = await checked(pool, owner, asset)
        if not raced:
            raced.append((await alice.post("/api/v3/jobs", json=body)).status)
        return found

    monkeypatch.setattr(reads, "jobs_using_asset", check_then_race)
    refused = await alice.delete(f"/api/v3/assets/{asset_id}")

    assert raced in ([201], [202])
    assert refused.status == 409 and "used by unfinished job" in refused.json()["detail"]
    assert (await alice.get(f"/api/v3/assets/{asset_id}")).status == 200


async def test_an_asset_deleted_while_a_job_using_it_is_created_refuses_the_job(
    alice: Client, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create has seen the asset alive; before it appends, the asset is deleted."""
    client_id, asset_id = await new_client(alice), await an_asset(alice)
    body = job_body(client_id)
    body["creative"]["assets"] = [{"id": asset_id}]
    seen = reads.assets_by_id

    async def see_then_delete(pool: Any, owner: str, ids: Any) -> Any:
        found = await seen(pool, owner, ids)
        stream = f"asset-{asset_id}"
        await core.store.append(stream, [AssetDeleted()], await core.store.stream_version(stream))
        return found

    monkeypatch.setattr(reads, "assets_by_id", see_then_delete)
    refused = await alice.post("/api/v3/jobs", json=body)

    assert refused.status == 409 and "was deleted" in refused.json()["detail"]
    created = [e for e in await core.store.read_all(0, 1000) if e.type == "job.created"]
    assert created == []


async def test_other_clients_and_users_work_never_holds_up_a_delete(
    alice: Client, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each time the delete looks, someone else's job is created: it must not care."""
    client_id = await new_client(alice)
    checked = reads.client_dependents
    others = 0

    async def check_then_others_work(pool: Any, owner: str, client: str) -> tuple[int, int]:
        nonlocal others
        found = await checked(pool, owner, client)
        for user in ("bob", "alice"):  # bob's client, and another client of alice's
            job = str(uuid.uuid4())
            event = msgspec.structs.replace(
                job_created(job, user), context=JobContext(client_id=str(uuid.uuid4()))
            )
            await core.store.append(f"job-{job}", [event], NO_STREAM)
            others += 1
        return found

    monkeypatch.setattr(reads, "client_dependents", check_then_others_work)
    deleted = await alice.delete(f"{CLIENTS}/{client_id}")

    assert deleted.status == 204, deleted.body
    assert others == 2  # one look was enough
