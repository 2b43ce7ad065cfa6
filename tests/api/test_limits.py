"""Per-user limits answer 429 with Retry-After past them — and hold back only that user."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Client, job_body, new_client
from .media import png
from .test_assets import form, upload

PNG = png(200, 200, noise=True)  # about 120 kB


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "max_active_jobs_per_user": 2,
        "requests_per_second_per_user": 40.0,
        "request_burst_seconds": 1.0,
        "upload_bytes_per_day_per_user": len(PNG) * 3 // 2,
    }


def assert_limited(answer: Any, limit_words: str) -> None:
    assert answer.status == 429, answer.body
    assert answer.content_type == "application/problem+json"
    assert int(answer.headers["Retry-After"]) >= 1
    assert limit_words in answer.json()["detail"]


async def test_unfinished_jobs_are_capped_even_for_a_concurrent_burst(
    alice: Client, bob: Client
) -> None:
    client_id = await new_client(alice)
    burst = await asyncio.gather(
        *(alice.post("/api/v3/jobs", json=job_body(client_id)) for _ in range(5))
    )
    statuses = sorted(a.status for a in burst)
    assert statuses == [201, 201, 429, 429, 429], statuses
    assert_limited(next(a for a in burst if a.status == 429), "unfinished jobs")
    assert (await alice.get("/api/v3/jobs")).json()["total"] == 2

    bobs = await new_client(bob)
    assert (await bob.post("/api/v3/jobs", json=job_body(bobs))).status == 201  # unaffected

    first = next(a for a in burst if a.status == 201).json()["id"]
    cancel = await alice.post(f"/api/v3/jobs/{first}/actions", json={"action": "cancel"})
    assert cancel.status == 200
    assert (await alice.post("/api/v3/jobs", json=job_body(client_id))).status == 201


async def test_a_user_sending_too_fast_is_slowed_and_nobody_else(
    alice: Client, bob: Client
) -> None:
    answers = await asyncio.gather(*(alice.get("/api/v3/clients") for _ in range(120)))
    limited = [a for a in answers if a.status == 429]
    assert limited and all(a.status in (200, 429) for a in answers)
    assert_limited(limited[0], "requests a second")
    assert (await bob.get("/api/v3/clients")).status == 200


async def test_upload_bytes_per_day_are_capped_and_deleting_refunds_nothing(
    alice: Client, bob: Client
) -> None:
    first = await upload(alice, PNG)
    answer = await alice.post("/api/v3/assets", data=_form(PNG))
    assert_limited(answer, "a day per user")
    assert (await alice.delete(f"/api/v3/assets/{first['id']}")).status == 204
    assert_limited(await alice.post("/api/v3/assets", data=_form(PNG)), "a day per user")
    assert (await upload(bob, PNG))["id"]  # unaffected


def _form(data: bytes) -> Any:
    return form(data, "hero.png", "image/png")
