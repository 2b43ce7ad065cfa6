"""Every failure is an RFC 9457 problem document with the right status — never a bare 500."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from adpipe.api.keys import create_key
from adpipe.context import Core, open_core
from adpipe.settings import load_settings

from .conftest import Client, job_body, new_client, serving


def assert_problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status == status, answer.body
    assert answer.content_type == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    assert problem["type"].startswith("urn:adpipe:problem:")
    assert problem["title"] and problem["detail"]
    return problem


async def test_malformed_json_is_a_400(alice: Client) -> None:
    headers = {"Content-Type": "application/json"}
    broken = await alice.post("/api/v3/clients", data=b'{"name": ', headers=headers)
    assert "not valid JSON" in assert_problem(broken, 400)["detail"]
    empty = await alice.post("/api/v3/clients", data=b"", headers=headers)
    assert_problem(empty, 400)
    asset = await alice.post("/api/v3/assets", data=b"{oops", headers=headers)
    assert_problem(asset, 400)


async def test_unknown_routes_are_404_and_wrong_methods_405(
    alice: Client, anonymous: Client
) -> None:
    assert_problem(await alice.get("/api/v3/nothing-here"), 404)
    assert_problem(await anonymous.get("/nothing-here"), 404)
    wrong = await alice.request("PATCH", "/api/v3/clients")
    assert_problem(wrong, 405)
    assert "GET" in wrong.headers["Allow"] and "POST" in wrong.headers["Allow"]


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v3/assets", "GET, OPTIONS, POST"),
        ("/api/v3/clients/x", "DELETE, GET, OPTIONS, PUT"),
        ("/api/v3/jobs/x/scenes/1", "GET, OPTIONS, PUT"),
    ],
)
async def test_options_and_405_name_every_method_of_the_path(
    alice: Client, path: str, methods: str
) -> None:
    # litestar's own OPTIONS handler remembered only the methods registered before it.
    options = await alice.request("OPTIONS", path)
    assert options.status == 204 and options.headers["Allow"] == methods
    wrong = await alice.request("PATCH", path)
    assert_problem(wrong, 405)
    assert sorted(wrong.headers["Allow"].split(", ")) == methods.split(", ")


async def test_unsupported_media_types_are_415(alice: Client) -> None:
    text = await alice.post(
        "/api/v3/clients", data=b"name=ACME", headers={"Content-Type": "text/plain"}
    )
    assert "application/json" in assert_problem(text, 415)["detail"]
    form = await alice.post("/api/v3/jobs", data={"a": "b"})
    assert_problem(form, 415)
    xml = await alice.post(
        "/api/v3/assets", data=b"<a/>", headers={"Content-Type": "application/xml"}
    )
    assert_problem(xml, 415)


async def test_oversize_json_bodies_are_413(alice: Client) -> None:
    huge = {"name": "x", "description": "y" * (2 * 1024 * 1024)}
    assert_problem(await alice.post("/api/v3/clients", json=huge), 413)


async def test_validation_errors_name_the_failing_fields_path(alice: Client) -> None:
    client_id = await new_client(alice)
    body = job_body(client_id)
    body["creative"]["assets"] = [{"url": "https://x.example/a.png", "type": "document"}]
    problem = assert_problem(await alice.post("/api/v3/jobs", json=body), 422)
    assert problem["errors"][0]["field"] == "creative.assets[0].type"
    body["creative"]["assets"] = []
    del body["adBasics"]
    problem = assert_problem(await alice.post("/api/v3/jobs", json=body), 422)
    assert problem["errors"][0]["field"] == "adBasics"


async def test_nul_characters_are_refused_before_postgres_sees_them(alice: Client) -> None:
    assert_problem(await alice.get("/api/v3/clients/a%00b"), 404)
    problem = assert_problem(await alice.get("/api/v3/jobs?clientId=a%00b"), 422)
    assert problem["errors"][0]["field"] == "clientId"
    named = await alice.post("/api/v3/clients", json={"name": "A\u0000B"})
    assert assert_problem(named, 422)["errors"][0]["field"] == "name"


@pytest.fixture
def settings_overrides() -> dict[str, float]:
    return {"projection_wait_seconds": 0.3}


async def test_read_models_that_do_not_catch_up_answer_503(
    core: Core, session: aiohttp.ClientSession
) -> None:
    # No projector runs in this test: the write lands but cannot be read back in time.
    async with serving(core) as url:
        user = Client(session, url, await create_key(core.pool, "alice"))
        answer = await user.post("/api/v3/clients", json={"name": "ACME"})
        assert "caught up" in assert_problem(answer, 503)["detail"]


async def test_postgres_down_is_a_503(database_url: str, session: aiohttp.ClientSession) -> None:
    settings = load_settings({}, database_url=database_url)
    async with open_core(settings) as core:
        key = await create_key(core.pool, "alice")
        async with serving(core) as url:
            await core.pool.close()
            user = Client(session, url, key)
            assert_problem(await user.get("/api/v3/jobs"), 503)
            ready = await user.get("/readyz")
            assert assert_problem(ready, 503)["checks"]["postgres"].startswith("unreachable")
            assert (await user.get("/healthz")).status == 200


async def test_readiness_names_the_dependency_that_failed(
    core: Core, session: aiohttp.ClientSession
) -> None:
    up = True

    async def nats_ready() -> bool:
        return up

    async with serving(core, nats_ready=nats_ready) as url:
        probe = Client(session, url, None)
        ready = await probe.get("/readyz")
        assert ready.status == 200 and ready.json()["checks"] == {"postgres": "ok", "nats": "ok"}
        up = False
        problem = assert_problem(await probe.get("/readyz"), 503)
        assert problem["checks"]["nats"] == "unreachable"
        up = True
        async with core.pool.connection() as conn:
            await conn.execute("DELETE FROM schema_migrations WHERE name = '0002_read_models.sql'")
        problem = assert_problem(await probe.get("/readyz"), 503)
        assert "0002_read_models.sql" in problem["checks"]["postgres"]


async def test_the_schema_documents_every_route_body_and_error(anonymous: Client) -> None:
    schema = (await anonymous.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    expected = {
        "/api/v3/clients": {"get", "post"},
        "/api/v3/clients/{client_id}": {"get", "put", "delete"},
        "/api/v3/clients/{client_id}/stats": {"get"},
        "/api/v3/campaigns": {"get", "post"},
        "/api/v3/campaigns/{campaign_id}": {"get", "put", "delete"},
        "/api/v3/campaigns/{campaign_id}/stats": {"get"},
        "/api/v3/assets": {"get", "post"},
        "/api/v3/assets/{asset_id}": {"get", "delete"},
        "/api/v3/assets/{asset_id}/data": {"get"},
        "/api/v3/assets/{asset_id}/thumbnail": {"get"},
        "/api/v3/jobs": {"get", "post"},
        "/api/v3/jobs/dry-run": {"post"},
        "/api/v3/jobs/{job_id}": {"get"},
        "/api/v3/jobs/{job_id}/actions": {"post"},
        "/api/v3/jobs/{job_id}/video": {"get"},
        "/api/v3/jobs/{job_id}/scenes": {"get"},
        "/api/v3/jobs/{job_id}/scenes/{scene_number}": {"get", "put"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            responses = paths[path][method]["responses"]
            if path.startswith("/api/v3"):
                assert {"401", "503"} <= set(responses), (path, method)
                assert responses["401"]["content"]["application/problem+json"]
    upload = paths["/api/v3/assets"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(upload)
    assert "Problem" in schema["components"]["schemas"]
    job = schema["components"]["schemas"]["JobView"]["properties"]
    assert {"scenes", "assets", "progress", "cost", "videoUrl", "pendingAction"} <= set(job)
