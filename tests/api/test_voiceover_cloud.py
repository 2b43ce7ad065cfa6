"""A deployment with a cloud TTS model: its voices are listed beside the offline ones, a job may
pick one, and the dry-run prices the narration per character (the offline voice costs nothing)."""

from __future__ import annotations

import pytest

from adpipe.pricing import typical_script_characters
from adpipe.settings import Prices

from .conftest import Client, job_body, new_client

JOBS = "/api/v3/jobs"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"tts_model": "openai/tts-1"}


async def test_cloud_voices_are_listed_and_the_default_is_the_providers(alice: Client) -> None:
    voices = (await alice.get("/api/v3/voices")).json()
    assert voices["default"] == "alloy"
    cloud = {v["name"]: v for v in voices["items"] if v["needsNetwork"]}
    assert set(cloud) >= {"alloy", "nova", "shimmer"}
    assert {v["engine"] for v in cloud.values()} == {"litellm"}
    assert any(v["name"] == "en-us" and not v["needsNetwork"] for v in voices["items"])
    created = await alice.post(
        JOBS, json=job_body(await new_client(alice), voiceover={"voice": "Nova"})
    )
    assert created.status == 201, created.body
    assert created.json()["creative"]["voiceover"]["voice"] == "nova"


async def test_the_dry_run_prices_a_cloud_narration_per_character(alice: Client) -> None:
    client_id = await new_client(alice)

    async def voiceover_cost(**voiceover: object) -> float:
        body = job_body(client_id, durationSeconds=30, voiceover=voiceover)
        answer = await alice.post(f"{JOBS}/dry-run", json=body)
        assert answer.status == 200, answer.body
        estimate = answer.json()["estimatedCost"]
        parts = estimate["breakdown"]
        assert estimate["total"] == pytest.approx(sum(parts.values()))
        return float(parts["voiceover"])

    expected = typical_script_characters(30) * Prices().tts_per_character
    assert await voiceover_cost(voice="alloy") == pytest.approx(expected)
    assert await voiceover_cost() == pytest.approx(expected)  # the default here is a cloud voice
    assert await voiceover_cost(voice="en-us") == 0.0
    assert await voiceover_cost(voice="alloy", enabled=False) == 0.0
