"""The API as a script would use it, for setting up what a browser test is not about."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from .stack import StudioStack


def call_api(
    studio: StudioStack, key: str, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """The API as a script would use it (setting up what a test is not about)."""

    async def send() -> Any:
        headers = {"Authorization": f"Bearer {key}", "Prefer": "respond-async"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{studio.origin}{path}", json=body, headers=headers
            ) as response,
        ):
            assert response.status in (200, 201, 202), await response.text()
            return await response.json()

    return studio.run(send)


def api_get(studio: StudioStack, key: str, path: str) -> Any:
    return call_api(studio, key, "GET", path)


def api_post(studio: StudioStack, key: str, path: str, body: dict[str, Any]) -> Any:
    return call_api(studio, key, "POST", path, body)


def new_job(studio: StudioStack, key: str, product: str, **creative: Any) -> str:
    """A job made through the API (answered at once; the planner works on)."""
    client = api_post(studio, key, "/api/v3/clients", {"name": f"{product} Inc"})
    body = {
        "context": {"clientId": client["id"]},
        "adBasics": {
            "product": product,
            "targetAudience": "Tech enthusiasts",
            "keyMessage": "Stay connected",
            "callToAction": "Buy Now",
        },
        "creative": {
            "direction": {"style": "Modern", "tone": "Energetic"},
            "durationSeconds": 6,
            "resolution": "720p",
            **creative,
        },
    }
    job_id: str = api_post(studio, key, "/api/v3/jobs", body)["id"]
    return job_id


def wait_for_job(
    studio: StudioStack, key: str, job_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Bounded wait until the job as the API shows it is `ready`; answers that job."""

    async def wait() -> dict[str, Any]:
        url = f"{studio.origin}/api/v3/jobs/{job_id}"
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            while True:
                async with session.get(url, headers=headers) as response:
                    job: dict[str, Any] = await response.json()
                    if ready(job):
                        return job
                await asyncio.sleep(0.1)

    return studio.run(wait, timeout=65)


def wait_for_status(studio: StudioStack, key: str, job_id: str, status: str) -> None:
    """Bounded wait until the API shows the job in `status` (for jobs set up through the API)."""
    wait_for_job(studio, key, job_id, lambda job: job["status"] == status)
