"""The API over the real services: URL assets downloaded, the storyboard planned, the MP4 made.

Postgres, NATS, the relay, the projector and the downloader, planner, voice and renderer services
all run in-process (the API tests' harness); the "internet" is an aiohttp server on 127.0.0.1.
"""

from __future__ import annotations

import pytest

from testkit.cdn import Cdn
from testkit.media import jpeg_bytes

from .conftest import Client, job_body, new_client
from .test_actions import act, until_status

PRODUCT = jpeg_bytes((200, 30, 30))


@pytest.mark.slow
async def test_a_job_goes_from_urls_to_a_video_through_the_real_services(
    alice: Client, cdn: Cdn
) -> None:
    url = cdn.add("/product.jpg", PRODUCT, "image/jpeg")
    asset = {"url": url, "type": "image", "name": "Product Hero"}
    body = job_body(await new_client(alice), durationSeconds=6, resolution="720p", assets=[asset])
    created = await alice.post("/api/v3/jobs", json=body)
    assert created.status == 201, created.body
    job = created.json()
    assert job["status"] == "storyboard_review", job
    (stored,) = job["assets"]
    assert stored["status"] == "ready" and stored["format"] == "jpeg"
    assert 3 <= len(job["scenes"]) <= 7
    assert {a for s in job["scenes"] for a in s["assets"]} <= {stored["id"]}
    assert (await alice.get(stored["url"])).body == PRODUCT

    approved = await act(alice, job["id"], action="approve_storyboard")
    assert approved.status == 200
    done = await until_status(alice, job["id"], "completed", seconds=120)
    video = await alice.get(done["videoUrl"])
    assert video.status == 200 and video.headers["Content-Type"] == "video/mp4"
    assert video.body[4:8] == b"ftyp"
    assert done["cost"]["breakdown"]["rendering"] > 0
