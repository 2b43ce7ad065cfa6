"""The OpenAPI document states what the server checks: a body the schema allows is accepted, one
it refuses is refused, and cross-field rules (one action's own fields, an asset by id or by URL,
a URL that tells its type, a form's comma-separated tags) are stated, not only enforced."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adpipe.api.assets import AssetUrlBody, UploadFields
from adpipe.api.fields import Tags
from adpipe.api.job_requests import AssetBody
from adpipe.api.openapi import _tag_list, _upload_form, schema_of
from adpipe.api.refs import _url_path, type_from_name

from .conftest import Client, job_body, new_client
from .media import png
from .test_actions import act, new_job
from .test_assets import upload

JOBS = "/api/v3/jobs"


def _validator(schema: Any) -> jsonschema.Draft202012Validator:
    document = schema.to_schema() if hasattr(schema, "to_schema") else schema
    return jsonschema.Draft202012Validator(msgspec.to_builtins(document))


async def test_the_actions_body_is_a_tagged_union_with_a_discriminator(anonymous: Client) -> None:
    schema = (await anonymous.get("/schema/openapi.json")).json()
    body = schema["paths"]["/api/v3/jobs/{job_id}/actions"]["post"]["requestBody"]
    union = body["content"]["application/json"]["schema"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "action"
    assert set(mapping) == {
        "regenerate_scene",
        "regenerate",
        "regenerate_all_scenes",
        "approve_storyboard",
        "reject_storyboard",
        "cancel",
    }
    assert sorted(m["$ref"] for m in union["oneOf"]) == sorted(mapping.values())
    components = schema["components"]["schemas"]

    def member(action: str) -> dict[str, Any]:
        found: dict[str, Any] = components[mapping[action].rsplit("/", 1)[1]]
        assert found["properties"]["action"] == {"enum": [action]}
        return found

    assert set(member("regenerate_scene")["required"]) == {"action", "sceneNumber"}
    assert set(member("regenerate")["required"]) == {"action", "sceneNumber"}
    assert set(member("reject_storyboard")["required"]) == {"action", "feedback"}
    assert member("reject_storyboard")["properties"]["feedback"]["minLength"] == 1
    assert set(member("approve_storyboard")["required"]) == {"action"}


async def test_a_schema_valid_action_with_extra_fields_is_accepted_and_a_lenient_one_is_not(
    alice: Client,
) -> None:
    job = await new_job(alice)
    # The schema allows properties it does not name: the server ignores them.
    extra = await act(alice, job["id"], action="regenerate_scene", sceneNumber=1, note={"x": 1})
    assert extra.status == 200, extra.body
    # "1" is not an integer: litestar's lenient decoding took it; the schema does not.
    text = await act(alice, job["id"], action="regenerate_scene", sceneNumber="1")
    assert text.status == 422 and text.json()["errors"][0]["field"] == "sceneNumber"
    blank = await act(alice, job["id"], action="reject_storyboard", feedback="  ")
    assert blank.status == 422 and blank.json()["errors"][0]["field"] == "feedback"
    unknown = await act(alice, job["id"], action="publish")
    assert unknown.status == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"durationSeconds": "30"}, "creative.durationSeconds"),
        ({"voiceover": {"enabled": "true"}}, "creative.voiceover.enabled"),
        ({"voiceover": {"speed": "1.5"}}, "creative.voiceover.speed"),
    ],
)
async def test_job_bodies_are_decoded_strictly(
    alice: Client, change: dict[str, Any], field: str
) -> None:
    body = job_body(await new_client(alice))
    body["creative"].update(change)
    answer = await alice.post(JOBS, json=body)
    assert answer.status == 422 and answer.json()["errors"][0]["field"] == field, answer.body


@pytest.mark.parametrize(
    ("asset", "valid"),
    [
        ({"url": "https://cdn.example/hero.PNG?size=2"}, True),
        ({"url": "https://cdn.example/download", "type": "video"}, True),
        ({"id": "a1"}, True),
        ({"id": "a1", "type": "image", "url": None}, True),
        ({"url": "https://cdn.example/download"}, False),  # no type, none in the path
        ({"url": "https://cdn.example/download", "type": None}, False),
        ({"url": "https://cdn.example/.png"}, False),  # a dot file: no extension
        ({"url": "https://cdn.example/a.png/"}, False),
        ({"url": "https://cdn.example?a.png"}, False),
        ({"id": "a1", "url": "https://cdn.example/a.png"}, False),
        ({}, False),
        ({"id": None, "url": None}, False),
    ],
)
def test_an_asset_of_a_job_is_by_id_or_by_a_url_that_tells_its_type(
    asset: dict[str, Any], valid: bool
) -> None:
    assert _validator(schema_of(AssetBody)).is_valid(asset) is valid


def test_an_asset_registered_by_url_needs_a_type_unless_the_url_tells_it() -> None:
    validator = _validator(schema_of(AssetUrlBody))
    assert validator.is_valid({"url": "https://cdn.example/a.mp4"})
    assert validator.is_valid({"url": "https://cdn.example/a", "type": "audio"})
    assert not validator.is_valid({"url": "https://cdn.example/a"})


async def test_the_server_refuses_what_the_asset_schema_refuses(alice: Client) -> None:
    client_id = await new_client(alice)
    untyped = await alice.post(
        JOBS, json=job_body(client_id, assets=[{"url": "https://cdn.example/download"}])
    )
    assert untyped.status == 422
    assert untyped.json()["errors"][0]["field"] == "creative.assets[0].type"
    # urlsplit refuses a malformed [IPv6] host or a port past 65535: so does the schema.
    for url in ("http://[x/a.png", "http://cdn.example:65536/a.png"):
        refused = await alice.post("/api/v3/assets", json={"url": url})
        assert refused.status == 422 and refused.json()["errors"][0]["field"] == "url", url
    port = await alice.post("/api/v3/assets", json={"url": "http://cdn.example:0080/a.png"})
    assert port.status == 201, port.body


_URL_TEXT = st.text(alphabet="ab./?#.PNGjpgmp4%@:", max_size=30)


@settings(max_examples=400, deadline=None)
@given(host=st.text(alphabet="ab.@:1", min_size=1, max_size=6), rest=_URL_TEXT)
def test_the_url_patterns_agree_with_how_the_server_reads_urls(host: str, rest: str) -> None:
    url = f"https://{host}{rest}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks it, as the downloader's fetch does
        readable = bool(parts.hostname)
    except ValueError:  # a port that is not a number, or past 65535
        readable = False
    schema = schema_of(AssetUrlBody).to_schema()
    url_ok = _validator(schema["properties"]["url"]).is_valid(url)
    assert url_ok is readable, url
    if readable:
        told = type_from_name(_url_path(url)) is not None
        assert _validator(schema).is_valid({"url": url}) is told, url


def _server_accepts_tags(field: str) -> bool:
    # As `_upload_fields` reads the form's tags field.
    tags = [t.strip() for t in field.split(",") if t.strip()]
    try:
        msgspec.convert(tags, Tags)
    except msgspec.ValidationError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=", a\u3000\x1c\x00", max_size=60),
        st.lists(st.text(alphabet=" ab", max_size=103), max_size=53).map(",".join),
    )
)
def test_the_form_tags_pattern_agrees_with_how_the_server_splits_them(field: str) -> None:
    assert _validator(_tag_list()).is_valid(field) is _server_accepts_tags(field), repr(field)


def test_the_upload_form_states_empty_fields_as_absent_and_never_null() -> None:
    form = _validator(_upload_form(UploadFields))
    assert form.is_valid({"file": "x", "name": "", "type": "", "clientId": ""})
    assert form.is_valid({"file": "x", "name": "Hero", "type": "image", "tags": "a, b"})
    assert not form.is_valid({"file": "x", "name": " "})  # blank is not empty: refused
    assert not form.is_valid({"file": "x", "name": None})
    assert not form.is_valid({"file": "x", "type": "document"})
    assert not form.is_valid({"name": "Hero"})  # no file


async def test_an_asset_listed_twice_is_used_once(alice: Client) -> None:
    client_id = await new_client(alice)
    mine = await upload(alice, png())
    twice = [{"id": mine["id"]}, {"id": mine["id"], "name": "Again"}]
    answer = await alice.post(JOBS, json=job_body(client_id, assets=twice))
    assert answer.status == 201, answer.body
    assert [a["id"] for a in answer.json()["creative"]["assets"]] == [mine["id"]]
