"""Jobs: created and answered with their storyboard, validated field by field, estimated, listed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adpipe.context import Core
from adpipe.events.asset import AssetRegistered
from adpipe.events.job import JobCreated
from adpipe.pricing import storage_cost
from adpipe.settings import Prices
from testkit.cdn import Cdn

from .conftest import Client, Pipeline, job_body, new_client, serving
from .media import png
from .test_assets import upload

JOBS = "/api/v3/jobs"
STYLE = {"style": "x"}


async def test_a_new_job_is_answered_with_its_storyboard(alice: Client) -> None:
    # The answer waits for the scenes' narrations too, so the job does not change after it.
    client_id = await new_client(alice)
    answer = await alice.post(JOBS, json=job_body(client_id))
    assert answer.status == 201, answer.body
    job = answer.json()
    assert answer.headers["Location"] == f"{JOBS}/{job['id']}"
    assert job["status"] == "storyboard_review"
    assert [s["sceneNumber"] for s in job["scenes"]] == [1, 2, 3, 4]
    assert sum(s["duration"] for s in job["scenes"]) == pytest.approx(30)
    assert set(job["scenes"][0]) == {
        "sceneNumber",
        "duration",
        "description",
        "script",
        "shotType",
        "transition",
        "assets",
        "voiceover",
    }
    assert job["context"] == {"clientId": client_id, "campaignId": None}
    assert job["adBasics"]["keyMessage"] == "Stay connected"
    assert job["creative"]["direction"] == {
        "style": "Modern",
        "tone": "Energetic",
        "visualElements": [],
    }
    assert job["creative"]["aspectRatio"] == "16:9" and job["creative"]["resolution"] == "1080p"
    assert job["progress"] == 0 and job["videoUrl"] is None and job["error"] is None
    assert job["cost"]["currency"] == "USD" and set(job["cost"]["breakdown"]) == {
        "planning",
        "rendering",
        "storage",
        "voiceover",
    }
    assert job["planner"] == {"name": "builtin", "model": None}
    assert job["pendingAction"] is None
    assert (await alice.get(answer.headers["Location"])).json() == job


async def test_url_assets_are_registered_for_the_downloader_before_the_job(
    alice: Client, core: Core, cdn: Cdn
) -> None:
    data = png()
    url = cdn.add("/product.jpg", data, "image/png")
    client_id = await new_client(alice)
    body = job_body(client_id, assets=[{"url": url, "type": "image", "name": "Product Hero"}])
    job = (await alice.post(JOBS, json=body)).json()
    assert job["status"] == "storyboard_review"
    (ref,) = job["creative"]["assets"]
    assert ref["name"] == "Product Hero" and ref["sourceUrl"] == url
    assert ref["url"] == f"/api/v3/assets/{ref['id']}/data"
    (asset,) = job["assets"]
    assert asset["id"] == ref["id"] and asset["status"] == "ready" and asset["jobId"] == job["id"]
    assert job["scenes"][0]["assets"] == [ref["id"]]
    assert job["cost"]["breakdown"]["storage"] == pytest.approx(storage_cost(len(data), Prices()))

    log = await core.store.read_all(0, 1000)
    registered = next(e for e in log if isinstance(e.data, AssetRegistered))
    created = next(e for e in log if isinstance(e.data, JobCreated))
    assert registered.position < created.position
    assert registered.data.job_id == job["id"]
    assert registered.data.source_url == url
    assert created.data.creative.assets[0].url == url
    assert created.data.creative.assets[0].asset_id == registered.data.asset_id


async def test_assets_given_by_id_must_be_the_callers_and_ready(
    alice: Client, bob: Client, cdn: Cdn
) -> None:
    client_id = await new_client(alice)
    mine = await upload(alice, png())
    theirs = await upload(bob, png())
    missing = cdn.url("/x.mp4")  # 404: the asset stays pending, then fails
    pending = (await alice.post("/api/v3/assets", json={"url": missing})).json()
    ok = await alice.post(JOBS, json=job_body(client_id, assets=[{"id": mine["id"]}]))
    assert ok.status == 201
    assert ok.json()["creative"]["assets"][0]["sourceUrl"] is None
    refused = await alice.post(
        JOBS,
        json=job_body(
            client_id,
            assets=[
                {"id": theirs["id"]},
                {"id": pending["id"]},
                {"id": mine["id"], "type": "video"},
                {"url": cdn.url("/a.png"), "id": mine["id"]},
            ],
        ),
    )
    assert refused.status == 422
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert errors["creative.assets[0].id"] == "no asset with this id"
    assert (
        "failed" in errors["creative.assets[1].id"] or "pending" in errors["creative.assets[1].id"]
    )
    assert "not a video" in errors["creative.assets[2].id"]
    assert errors["creative.assets[3]"] == "give either id or url"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"creative": {"direction": STYLE, "durationSeconds": 3}}, "creative.durationSeconds"),
        ({"creative": {"direction": STYLE, "durationSeconds": 121}}, "creative.durationSeconds"),
        ({"creative": {"direction": STYLE, "aspectRatio": "4:3"}}, "creative.aspectRatio"),
        ({"creative": {"direction": STYLE, "resolution": "4k"}}, "creative.resolution"),
        ({"creative": {"direction": {}}}, "creative.direction.style"),
        ({"adBasics": {"product": "x"}}, "adBasics.targetAudience"),
        ({"adBasics": None}, "adBasics"),
        ({"creative": {"direction": {"style": " "}}}, "creative.direction.style"),
    ],
)
async def test_invalid_jobs_are_422_naming_the_failing_field(
    alice: Client, change: dict[str, Any], field: str
) -> None:
    client_id = await new_client(alice)
    body = {**job_body(client_id), **change}
    answer = await alice.post(JOBS, json=body)
    assert answer.status == 422, answer.body
    assert answer.content_type == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] and problem["type"]
    assert field in [e["field"] for e in problem["errors"]]
    assert (await alice.get(JOBS)).json()["total"] == 0


async def test_a_job_for_an_unknown_client_is_409_naming_the_field(alice: Client) -> None:
    # Well formed by the schema; the server's state refuses it.
    answer = await alice.post(JOBS, json=job_body("no-such-client"))
    assert answer.status == 409, answer.body
    assert answer.content_type == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["context.clientId"]
    assert (await alice.get(JOBS)).json()["total"] == 0


async def test_prefer_respond_async_answers_202_at_once_with_a_location(
    alice: Client, pipeline: Pipeline
) -> None:
    await pipeline.pause("planner")  # the job stays pending, so the body below is deterministic
    client_id = await new_client(alice)
    answer = await alice.post(JOBS, json=job_body(client_id), headers={"Prefer": "respond-async"})
    assert answer.status == 202
    assert answer.json()["status"] == "pending"
    assert answer.headers["Preference-Applied"] == "respond-async"
    assert (await alice.get(answer.headers["Location"])).status == 200


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", {})


@pytest.mark.parametrize("settings_overrides", [{"storyboard_wait_seconds": 0.3}], indirect=True)
async def test_when_the_storyboard_takes_too_long_the_answer_is_202(
    alice: Client, pipeline: Pipeline
) -> None:
    await pipeline.pause("planner")
    client_id = await new_client(alice)
    answer = await alice.post(JOBS, json=job_body(client_id))
    assert answer.status == 202 and answer.json()["status"] == "pending"


async def test_dry_run_estimates_and_stores_nothing(alice: Client, core: Core) -> None:
    client_id = await new_client(alice)
    before = await core.store.last_position()
    body = job_body(
        client_id,
        durationSeconds=20,
        resolution="720p",
        assets=[{"url": "https://cdn.com/clip.mp4", "type": "video", "name": "Clip"}],
    )
    answer = await alice.post(f"{JOBS}/dry-run", json=body)
    assert answer.status == 200, answer.body
    estimate = answer.json()
    cost = estimate["estimatedCost"]
    assert cost["currency"] == "USD"
    assert cost["breakdown"]["rendering"] == pytest.approx(0.02 * 20)
    assert cost["breakdown"]["storage"] > 0
    assert cost["total"] == pytest.approx(sum(cost["breakdown"].values()))
    assert estimate["estimatedDurationSeconds"] == 20
    assert estimate["sceneCount"] == {"min": 3, "max": 7}
    assert await core.store.last_position() == before
    invalid = await alice.post(f"{JOBS}/dry-run", json=job_body("nope"))
    assert invalid.status == 409


async def test_jobs_list_filters_by_status_client_and_campaign(alice: Client) -> None:
    acme, globex = await new_client(alice, "ACME"), await new_client(alice, "Globex")
    campaign = (await alice.post("/api/v3/campaigns", json={"clientId": acme, "name": "Q4"})).json()
    with_campaign = job_body(acme)
    with_campaign["context"]["campaignId"] = campaign["id"]
    first = (await alice.post(JOBS, json=with_campaign)).json()
    second = (await alice.post(JOBS, json=job_body(globex))).json()
    await alice.post(f"{JOBS}/{second['id']}/actions", json={"action": "cancel"})

    async def ids(query: str) -> list[str]:
        return [j["id"] for j in (await alice.get(f"{JOBS}?{query}")).json()["items"]]

    assert await ids("") == [second["id"], first["id"]]
    assert await ids("status=cancelled") == [second["id"]]
    assert await ids("status=storyboard_review") == [first["id"]]
    assert await ids(f"clientId={acme}") == [first["id"]]
    assert await ids(f"campaignId={campaign['id']}") == [first["id"]]
    assert await ids("pageSize=1&page=2") == [first["id"]]
    wrong = await alice.get(f"{JOBS}?status=done")
    assert wrong.status == 422 and wrong.json()["errors"][0]["field"] == "status"
    other_client = job_body(globex)
    other_client["context"]["campaignId"] = campaign["id"]
    mismatch = await alice.post(JOBS, json=other_client)
    assert mismatch.status == 409
    assert mismatch.json()["errors"][0]["field"] == "context.campaignId"


async def test_the_app_serves_without_the_optional_routers(core: Core, alice: Client) -> None:
    async with serving(core, extra_route_handlers=()) as url:
        answer = await alice.get(f"{url}/api/v3/jobs")
        assert answer.status == 200


async def test_a_burst_of_creates_is_each_readable_the_moment_it_is_answered(
    alice: Client, bob: Client, core: Core, cdn: Cdn
) -> None:
    """Creates no longer queue behind each other (one batch, one shared read-model wait): each
    answer still comes only once its job and assets can be read, and its assets precede it."""
    burst = cdn.add("/burst.png", png(), "image/png")
    users = {"alice": (alice, await new_client(alice)), "bob": (bob, await new_client(bob))}
    body = {
        name: job_body(client_id, assets=[{"url": burst, "type": "image"}])
        for name, (_, client_id) in users.items()
    }

    async def create_then_read(name: str) -> tuple[int, int, Any]:
        user = users[name][0]
        made = await user.post(JOBS, json=body[name], headers={"Prefer": "respond-async"})
        read = await user.get(f"{JOBS}/{made.json()['id']}")
        return made.status, read.status, read.json()

    answers = await asyncio.gather(*(create_then_read(n) for n in ["alice", "bob"] * 10))
    assert {(made, read) for made, read, _ in answers} == {(202, 200)}
    assert all(len(job["assets"]) == 1 for _, _, job in answers), "asset not readable with it"
    log = await core.store.read_all(0, 1000)
    first_seen = {e.stream: e.position for e in reversed(log)}
    for _, _, job in answers:
        asset_id = job["creative"]["assets"][0]["id"]
        assert first_seen[f"asset-{asset_id}"] < first_seen[f"job-{job['id']}"]
