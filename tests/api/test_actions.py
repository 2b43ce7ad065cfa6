"""The storyboard review through `POST /jobs/{id}/actions`, scene edits, and the finished video."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from .conftest import Client, Pipeline, job_body, new_client

JOBS = "/api/v3/jobs"


async def new_job(user: Client, **creative: Any) -> dict[str, Any]:
    answer = await user.post(JOBS, json=job_body(await new_client(user), **creative))
    assert answer.status == 201, answer.body
    job: dict[str, Any] = answer.json()
    return job


async def act(user: Client, job_id: str, **body: Any) -> Any:
    return await user.post(f"{JOBS}/{job_id}/actions", json=body)


@pytest.mark.parametrize("spelling", ["regenerate_scene", "regenerate"])
async def test_regenerating_a_scene_answers_the_job_with_the_new_scene(
    alice: Client, pipeline: Pipeline, spelling: str
) -> None:
    await pipeline.pause("voice")  # narrations landing meanwhile would change the scenes' JSON
    job = await new_job(alice)
    answer = await act(alice, job["id"], action=spelling, sceneNumber=2, feedback="More energetic")
    assert answer.status == 200, answer.body
    updated = answer.json()
    old, new = job["scenes"][1], updated["scenes"][1]
    assert (new["description"], new["script"]) != (old["description"], old["script"])
    assert new["sceneNumber"] == 2 and new["duration"] == old["duration"]
    assert updated["scenes"][0] == job["scenes"][0]
    assert updated["scenes"][2:] == job["scenes"][2:]
    assert updated["pendingAction"] is None
    assert (await alice.get(f"{JOBS}/{job['id']}")).json()["scenes"] == updated["scenes"]


async def test_regenerate_all_and_reject_replace_the_storyboard(alice: Client) -> None:
    job = await new_job(alice)
    again = await act(alice, job["id"], action="regenerate_all_scenes", feedback="calmer")
    assert again.status == 200, again.body
    assert again.json()["scenes"] != job["scenes"]
    # The built-in planner steers by the feedback: "calmer" fades instead of cutting.
    assert {s["transition"] for s in again.json()["scenes"]} <= {"Fade in", "Crossfade", "Fade out"}
    no_feedback = await act(alice, job["id"], action="reject_storyboard")
    assert no_feedback.status == 422
    assert no_feedback.json()["errors"][0]["field"] == "feedback"
    rejected = await act(alice, job["id"], action="reject_storyboard", feedback="shorter lines")
    assert rejected.status == 200
    assert rejected.json()["scenes"] != again.json()["scenes"]
    assert rejected.json()["status"] == "storyboard_review"


async def test_regenerating_needs_an_existing_scene_number(alice: Client) -> None:
    job = await new_job(alice)
    missing = await act(alice, job["id"], action="regenerate_scene")
    assert missing.status == 422 and missing.json()["errors"][0]["field"] == "sceneNumber"
    # Well formed, but this storyboard has no scene 9: the job's state refuses it (409).
    beyond = await act(alice, job["id"], action="regenerate_scene", sceneNumber=9)
    assert beyond.status == 409 and beyond.json()["errors"][0]["field"] == "sceneNumber"


async def test_a_regeneration_still_running_answers_202_and_blocks_other_actions(
    alice: Client, pipeline: Pipeline
) -> None:
    job = await new_job(alice)
    await pipeline.pause("planner")  # the planner does not answer while the test looks
    answer = await alice.post(
        f"{JOBS}/{job['id']}/actions",
        json={"action": "regenerate_scene", "sceneNumber": 1},
        headers={"Prefer": "respond-async"},
    )
    assert answer.status == 202
    assert answer.json()["pendingAction"] == {
        "action": "regenerate_scene",
        "sceneNumber": 1,
        "feedback": None,
    }
    busy = await act(alice, job["id"], action="approve_storyboard")
    assert busy.status == 409 and busy.json()["jobStatus"] == "storyboard_review"
    assert "being regenerated" in busy.json()["detail"]


async def test_a_regeneration_outlasting_the_wait_answers_202(
    alice: Client, pipeline: Pipeline
) -> None:
    job = await new_job(alice)
    await pipeline.pause("planner")
    answer = await act(alice, job["id"], action="regenerate_all_scenes")
    assert answer.status == 202
    assert answer.json()["pendingAction"]["action"] == "regenerate_all_scenes"


@pytest.fixture
def settings_overrides() -> dict[str, float]:
    return {"storyboard_wait_seconds": 1.0}


async def test_approval_renders_the_video_which_is_served_with_ranges(alice: Client) -> None:
    job = await new_job(alice)
    early = await alice.get(f"{JOBS}/{job['id']}/video")
    assert early.status == 409 and early.json()["jobStatus"] == "storyboard_review"
    early_head = await alice.request("HEAD", f"{JOBS}/{job['id']}/video")
    assert early_head.status == 409 and early_head.body == b""
    approved = await act(alice, job["id"], action="approve_storyboard")
    assert approved.status == 200
    assert approved.json()["status"] in ("in_progress", "rendering", "completed")
    done = await until_status(alice, job["id"], "completed", seconds=60)
    assert done["progress"] == 100 and done["videoUrl"] == f"{JOBS}/{job['id']}/video"
    # 30 s of 1080p at the documented $0.04 a second.
    assert done["cost"]["breakdown"]["rendering"] == pytest.approx(1.2)
    video = await alice.get(done["videoUrl"])
    assert video.status == 200 and video.body[4:8] == b"ftyp"  # an MP4, as the renderer made it
    mp4 = video.body
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.headers["ETag"] == f'"{hashlib.sha256(mp4).hexdigest()}"'
    part = await alice.get(done["videoUrl"], headers={"Range": "bytes=100-199"})
    assert part.status == 206 and part.body == mp4[100:200]
    head = await alice.request("HEAD", done["videoUrl"])
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(mp4))
    assert head.headers["ETag"] == video.headers["ETag"]
    again = await act(alice, job["id"], action="regenerate_scene", sceneNumber=1)
    assert again.status == 409 and again.json()["jobStatus"] == "completed"
    assert "completed" in again.json()["detail"]


async def test_an_action_the_status_forbids_is_a_409_naming_the_status(alice: Client) -> None:
    job = await new_job(alice)
    cancelled = await act(alice, job["id"], action="cancel", feedback="changed my mind")
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    for action in ("approve_storyboard", "cancel", "regenerate_all_scenes"):
        refused = await act(alice, job["id"], action=action)
        assert refused.status == 409, action
        assert refused.content_type == "application/problem+json"
        assert refused.json()["jobStatus"] == "cancelled"


async def test_an_unknown_action_is_a_422(alice: Client) -> None:
    job = await new_job(alice)
    answer = await act(alice, job["id"], action="publish")
    assert answer.status == 422 and answer.json()["errors"][0]["field"] == "action"


async def test_scenes_are_listed_read_and_edited_during_review_only(
    alice: Client, pipeline: Pipeline
) -> None:
    await pipeline.pause("voice")  # narrations landing meanwhile would change the scenes' JSON
    job = await new_job(alice)
    scenes_url = f"{JOBS}/{job['id']}/scenes"
    scenes = (await alice.get(scenes_url)).json()
    assert scenes == job["scenes"]
    assert (await alice.get(f"{scenes_url}/2")).json() == job["scenes"][1]
    assert (await alice.get(f"{scenes_url}/9")).status == 404
    edit = {"description": "Close-up of the watch", "duration": 8.5, "shotType": "close-up"}
    edited = await alice.put(f"{scenes_url}/2", json=edit)
    assert edited.status == 200, edited.body
    assert edited.json()["description"] == "Close-up of the watch"
    assert edited.json()["duration"] == 8.5
    assert edited.json()["script"] == job["scenes"][1]["script"]
    fetched = (await alice.get(f"{JOBS}/{job['id']}")).json()
    assert fetched["scenes"][1] == edited.json()
    assert fetched["durationSeconds"] == pytest.approx(30 - job["scenes"][1]["duration"] + 8.5)
    # Well-formed edits this storyboard refuses (not its asset, a total past 120 s): 409.
    bad = await alice.put(f"{scenes_url}/2", json={"assets": ["not-an-asset-of-this-job"]})
    assert bad.status == 409 and bad.json()["errors"][0]["field"] == "scenes[2].assets"
    empty = await alice.put(f"{scenes_url}/2", json={"script": ""})
    assert empty.status == 422 and empty.json()["errors"][0]["field"] == "script"
    too_long = await alice.put(f"{scenes_url}/1", json={"duration": 100})
    assert too_long.status == 409
    assert (await alice.put(f"{scenes_url}/7", json={"script": "x"})).status == 404
    await act(alice, job["id"], action="approve_storyboard")
    locked = await alice.put(f"{scenes_url}/2", json={"script": "New line"})
    assert locked.status == 409 and locked.json()["jobStatus"] != "storyboard_review"


async def until_status(
    user: Client, job_id: str, status: str, seconds: float = 60
) -> dict[str, Any]:
    for _ in range(int(seconds / 0.05)):
        job: dict[str, Any] = (await user.get(f"{JOBS}/{job_id}")).json()
        if job["status"] == status:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never became {status}: {job}")
