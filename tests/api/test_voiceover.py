"""The ad speaks, through the API: voiceover input checked, voices listed, each scene's narration
served (Range, ETag, HEAD), subtitles timed to it, edits re-narrated, approval queued behind
narration, a failed narration shown and blocking approval, and nobody else's job reachable."""

from __future__ import annotations

import asyncio
import io
import itertools
import wave
from typing import Any

import pytest
import srt
import webvtt

from adpipe.context import Core
from adpipe.events.job import RenderStarted
from adpipe.events.narration import NarrationFailed, NarrationSynthesized
from adpipe.jobs import job_stream
from testkit.speech_provider import FakeSpeechProvider, error

from .conftest import Client, Pipeline, job_body, new_client
from .test_actions import act, until_status

JOBS = "/api/v3/jobs"


async def new_job(user: Client, **creative: Any) -> dict[str, Any]:
    answer = await user.post(JOBS, json=job_body(await new_client(user), **creative))
    assert answer.status == 201, answer.body
    job: dict[str, Any] = answer.json()
    return job


async def narration_events(core: Core, job_id: str) -> list[NarrationSynthesized]:
    events = [e.data for e in await core.store.read_stream(job_stream(job_id))]
    return [e for e in events if isinstance(e, NarrationSynthesized)]


async def narrated_audio(core: Core, job_id: str, scene_number: int) -> bytes:
    """The audio the voice service stored for the scene's latest narration."""
    latest = [e for e in await narration_events(core, job_id) if e.scene_number == scene_number]
    return await core.blobs.read_bytes(latest[-1].blob_id)


@pytest.mark.parametrize("path", [JOBS, f"{JOBS}/dry-run"])
@pytest.mark.parametrize(
    ("voiceover", "field"),
    [
        ({"enabled": "yes"}, "creative.voiceover.enabled"),
        ({"voice": 7}, "creative.voiceover.voice"),
        ({"voice": ""}, "creative.voiceover.voice"),
        ({"speed": 3.0}, "creative.voiceover.speed"),
        ({"speed": 0.1}, "creative.voiceover.speed"),
        ({"speed": "fast"}, "creative.voiceover.speed"),
        ("on", "creative.voiceover"),
    ],
)
async def test_bad_voiceover_input_answers_422_naming_the_field_and_stores_nothing(
    alice: Client, path: str, voiceover: Any, field: str
) -> None:
    body = job_body(await new_client(alice), voiceover=voiceover)
    answer = await alice.post(path, json=body)
    assert answer.status == 422, answer.body
    assert answer.content_type == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert (await alice.get(JOBS)).json()["total"] == 0


@pytest.mark.parametrize("path", [JOBS, f"{JOBS}/dry-run"])
@pytest.mark.parametrize("voiceover", [{"voice": "klingon"}, {"enabled": False, "voice": "nova"}])
async def test_a_voice_this_deployment_lacks_answers_409_naming_the_field_and_stores_nothing(
    alice: Client, path: str, voiceover: Any
) -> None:
    # The body is well formed (any voice name fits the schema); what this deployment speaks
    # (no cloud model here, so no "nova") is server state: 409, like an unknown asset id.
    answer = await alice.post(path, json=job_body(await new_client(alice), voiceover=voiceover))
    assert answer.status == 409, answer.body
    assert answer.content_type == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["creative.voiceover.voice"]
    assert (await alice.get(JOBS)).json()["total"] == 0


async def test_the_voices_here_are_listed_and_a_job_records_the_one_it_speaks_with(
    alice: Client,
) -> None:
    voices = (await alice.get("/api/v3/voices")).json()
    assert voices["default"] == "en-us"
    assert (voices["speedMin"], voices["speedMax"]) == (0.5, 2.0)
    by_name = {v["name"]: v for v in voices["items"]}
    assert by_name["en-us"] == {
        "name": "en-us",
        "language": "en-us",
        "engine": "espeak-ng",
        "needsNetwork": False,
    }
    assert len(by_name) > 50  # espeak-ng's languages, from its wheel
    assert not any(v["needsNetwork"] for v in voices["items"])  # no cloud model configured
    job = await new_job(alice)
    assert job["creative"]["voiceover"] == {"enabled": True, "voice": "en-us", "speed": 1.0}
    german = await new_job(alice, voiceover={"voice": " DE ", "speed": 1.25})
    assert german["creative"]["voiceover"] == {"enabled": True, "voice": "de", "speed": 1.25}


async def test_each_scene_is_narrated_and_its_audio_served_with_range_etag_and_head(
    alice: Client, core: Core
) -> None:
    job = await new_job(alice)
    for scene in job["scenes"]:
        voiceover = scene["voiceover"]
        number = scene["sceneNumber"]
        assert voiceover["status"] == "ready", voiceover
        assert voiceover["url"] == f"{JOBS}/{job['id']}/scenes/{number}/voiceover"
        words = voiceover["words"]
        assert [w["word"] for w in words] == scene["script"].split()
        assert 0 <= words[0]["start"] < words[0]["end"] <= words[-1]["end"]
        assert voiceover["leadSeconds"] >= 0 and voiceover["durationSeconds"] > 0
        assert voiceover["error"] is None
        whole = await alice.get(voiceover["url"])
        assert whole.status == 200
        assert whole.body == await narrated_audio(core, job["id"], number)
        assert whole.content_type == "audio/wav"
        assert whole.headers["Accept-Ranges"] == "bytes"
        with wave.open(io.BytesIO(whole.body)) as wav:
            assert wav.getnframes() > 0
    url = job["scenes"][1]["voiceover"]["url"]
    whole = await alice.get(url)
    part = await alice.get(url, headers={"Range": "bytes=4-11"})
    assert part.status == 206 and part.body == whole.body[4:12]
    assert part.headers["Content-Range"] == f"bytes 4-11/{len(whole.body)}"
    etag = whole.headers["ETag"]
    assert (await alice.get(url, headers={"If-None-Match": etag})).status == 304
    head = await alice.request("HEAD", url)
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(whole.body)) and head.headers["ETag"] == etag
    assert (await alice.get(f"{JOBS}/{job['id']}/scenes/9/voiceover")).status == 404


async def test_without_voiceover_the_scenes_have_no_narration_but_subtitles_exist(
    alice: Client,
) -> None:
    job = await new_job(alice, voiceover={"enabled": False})
    assert job["creative"]["voiceover"] == {"enabled": False, "voice": "", "speed": 1.0}
    assert {s["voiceover"]["status"] for s in job["scenes"]} == {"none"}
    missing = await alice.get(f"{JOBS}/{job['id']}/scenes/1/voiceover")
    assert missing.status == 404 and "voiceover is off" in missing.json()["detail"]
    cues = parse_vtt((await alice.get(f"{JOBS}/{job['id']}/subtitles.vtt")).body)
    assert (
        " ".join(c[2] for c in cues).split() == " ".join(s["script"] for s in job["scenes"]).split()
    )


def parse_vtt(body: bytes) -> list[tuple[float, float, str]]:
    return [
        (seconds(c.start), seconds(c.end), c.text)
        for c in webvtt.from_buffer(io.StringIO(body.decode()))
    ]


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


async def test_subtitles_follow_the_narrations_word_timings_in_both_formats(
    alice: Client,
) -> None:
    job = await new_job(alice)
    vtt = await alice.get(f"{JOBS}/{job['id']}/subtitles.vtt")
    assert vtt.status == 200 and vtt.content_type == "text/vtt"
    srt_answer = await alice.get(f"{JOBS}/{job['id']}/subtitles.srt")
    assert srt_answer.status == 200 and srt_answer.content_type == "application/x-subrip"
    from_srt = [
        (s.start.total_seconds(), s.end.total_seconds(), s.content)
        for s in srt.parse(srt_answer.body.decode())
    ]
    from_vtt = parse_vtt(vtt.body)
    assert from_vtt == from_srt and from_vtt
    head = await alice.request("HEAD", f"{JOBS}/{job['id']}/subtitles.vtt")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(vtt.body))
    # In order, never overlapping, each inside its scene, and the words are the scripts' words.
    starts, start = [], 0.0
    for scene in job["scenes"]:
        starts.append(start)
        start += scene["duration"]
    for (_, end, _), (following, _, _) in itertools.pairwise(from_vtt):
        assert end <= following
    words = " ".join(text for _, _, text in from_vtt).split()
    assert words == " ".join(s["script"] for s in job["scenes"]).split()
    remaining = list(from_vtt)
    for scene, scene_start in zip(job["scenes"], starts, strict=True):
        voiceover = scene["voiceover"]
        count = len(scene["script"].split())
        cue_words: list[str] = []
        mine = []
        while len(cue_words) < count:
            cue = remaining.pop(0)
            mine.append(cue)
            cue_words += cue[2].split()
        assert cue_words == scene["script"].split()
        for cue_start, cue_end, _ in mine:
            assert scene_start <= cue_start < cue_end <= scene_start + scene["duration"] + 1e-6
        # A phrase appears when its first word is spoken.
        first = voiceover["words"][0]["start"]
        assert mine[0][0] == pytest.approx(scene_start + voiceover["leadSeconds"] + first, abs=2e-3)


async def test_subtitles_wait_for_the_storyboard(alice: Client, pipeline: Pipeline) -> None:
    await pipeline.pause("planner")
    body = job_body(await new_client(alice))
    job = (await alice.post(JOBS, json=body, headers={"Prefer": "respond-async"})).json()
    for kind in ("vtt", "srt"):
        early = await alice.get(f"{JOBS}/{job['id']}/subtitles.{kind}")
        assert early.status == 409 and early.json()["jobStatus"] == "pending"
    assert (await alice.get(f"{JOBS}/{job['id']}/scenes/1/voiceover")).status == 404


async def test_editing_a_script_narrates_that_scene_again_and_only_it(
    alice: Client, core: Core
) -> None:
    job = await new_job(alice)
    before = await narration_events(core, job["id"])
    assert sorted(e.scene_number for e in before) == [1, 2, 3, 4]
    old_audio = (await alice.get(job["scenes"][1]["voiceover"]["url"])).body
    scene_url = f"{JOBS}/{job['id']}/scenes/2"
    edited = await alice.put(scene_url, json={"script": "Stay close to what matters most."})
    assert edited.status == 200 and edited.json()["voiceover"]["status"] == "ready"
    after = await narration_events(core, job["id"])
    assert [e.scene_number for e in after[len(before) :]] == [2]
    assert after[-1].script == "Stay close to what matters most."
    new_audio = (await alice.get(edited.json()["voiceover"]["url"])).body
    assert new_audio != old_audio and new_audio == await narrated_audio(core, job["id"], 2)
    # An edit that changes nothing spoken (the description) does not narrate again.
    await alice.put(scene_url, json={"description": "A close-up"})
    assert len(await narration_events(core, job["id"])) == len(after)


async def test_a_script_too_long_for_its_scene_lengthens_it_and_the_job_says_so(
    alice: Client,
) -> None:
    job = await new_job(alice)
    old = job["scenes"][0]["duration"]
    long = " ".join(["word"] * 30)  # ~10 s of speech at espeak-ng's 175 words a minute
    edited = (await alice.put(f"{JOBS}/{job['id']}/scenes/1", json={"script": long})).json()
    lengthened = edited["duration"]
    assert lengthened > old
    assert lengthened == pytest.approx(round(lengthened, 1))  # to the tenth of a second
    note = edited["voiceover"]["note"]
    assert note.startswith(f"The scene was lengthened from {old:g} s to {lengthened:g} s"), note
    fetched = (await alice.get(f"{JOBS}/{job['id']}")).json()
    assert fetched["durationSeconds"] == pytest.approx(30 - old + lengthened)
    assert fetched["adjustments"] == [f"Scene 1: {note}"]


async def test_approval_is_queued_while_narration_is_pending_and_renders_once_it_lands(
    alice: Client, core: Core, pipeline: Pipeline
) -> None:
    await pipeline.pause("voice")
    body = job_body(await new_client(alice))
    created = await alice.post(JOBS, json=body, headers={"Prefer": "respond-async"})
    job_id = created.json()["id"]
    job = await until_status(alice, job_id, "storyboard_review")
    assert {s["voiceover"]["status"] for s in job["scenes"]} == {"pending"}
    approved = await act(alice, job_id, action="approve_storyboard")
    assert approved.status == 200 and approved.json()["status"] == "in_progress"
    await asyncio.sleep(0.5)  # the renderer has seen the approval and must not start yet
    assert (await alice.get(f"{JOBS}/{job_id}")).json()["status"] == "in_progress"
    pipeline.resume("voice")
    done = await until_status(alice, job_id, "completed", seconds=60)
    assert {s["voiceover"]["status"] for s in done["scenes"]} == {"ready"}
    assert done["subtitlesUrls"] == {
        "vtt": f"{JOBS}/{job_id}/subtitles.vtt",
        "srt": f"{JOBS}/{job_id}/subtitles.srt",
    }
    events = [e.data for e in await core.store.read_stream(job_stream(job_id))]
    assert sum(isinstance(e, RenderStarted) for e in events) == 1
    assert done["cost"]["breakdown"]["voiceover"] == 0.0  # the offline voice is free


@pytest.mark.parametrize("settings_overrides", [{"tts_model": "openai/tts-1"}], indirect=True)
async def test_a_failed_narration_after_an_edit_shows_and_blocks_approval_until_fixed(
    alice: Client, core: Core, speech_provider: FakeSpeechProvider
) -> None:
    job = await new_job(alice, voiceover={"voice": "nova"})  # the cloud voice, on 127.0.0.1
    speech_provider.play(error(400), repeat_last=True)  # the provider refuses this script
    scene_url = f"{JOBS}/{job['id']}/scenes/3"
    failed = (await alice.put(scene_url, json={"script": "Mumble."})).json()
    assert failed["voiceover"]["status"] == "failed"
    (failure,) = [
        e.data
        for e in await core.store.read_stream(job_stream(job["id"]))
        if isinstance(e.data, NarrationFailed)
    ]
    assert failed["voiceover"]["error"] == {"code": failure.code, "message": failure.message}
    assert failure.code == "rejected" and "rejected" in failure.message
    refused = await act(alice, job["id"], action="approve_storyboard")
    assert refused.status == 409
    assert "narration of scene 3 failed" in refused.json()["detail"]
    assert refused.json()["jobStatus"] == "storyboard_review"
    speech_provider.play()  # speaking again
    fixed = (await alice.put(scene_url, json={"script": "Speak up."})).json()
    assert fixed["voiceover"]["status"] == "ready"
    assert (await act(alice, job["id"], action="approve_storyboard")).status == 200
    await until_status(alice, job["id"], "completed", seconds=60)


async def test_another_users_narration_and_subtitles_answer_404(alice: Client, bob: Client) -> None:
    job = await new_job(alice)
    paths = [
        f"{JOBS}/{job['id']}/scenes/1/voiceover",
        f"{JOBS}/{job['id']}/subtitles.vtt",
        f"{JOBS}/{job['id']}/subtitles.srt",
    ]
    for path in paths:
        assert (await alice.get(path)).status == 200, path
        for method in ("GET", "HEAD"):
            answer = await bob.request(method, path)
            assert answer.status == 404, (method, path)
        assert (await bob.get(path)).content_type == "application/problem+json"
    assert (await bob.get("/api/v3/voices")).status == 200  # the catalogue is no one's


async def test_the_openapi_document_describes_the_new_shapes(anonymous: Client) -> None:
    schema = (await anonymous.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert "get" in paths["/api/v3/voices"]
    voiceover = paths["/api/v3/jobs/{job_id}/scenes/{scene_number}/voiceover"]
    assert {"get", "head"} <= set(voiceover)
    vtt = paths["/api/v3/jobs/{job_id}/subtitles.vtt"]["get"]["responses"]["200"]
    assert "text/vtt" in vtt["content"]
    srt_doc = paths["/api/v3/jobs/{job_id}/subtitles.srt"]["get"]["responses"]["200"]
    assert "application/x-subrip" in srt_doc["content"]
    components = schema["components"]["schemas"]
    scene = next(v for k, v in components.items() if k.endswith("SceneView"))
    assert "voiceover" in scene["properties"]
    voice_body = next(v for k, v in components.items() if k.endswith("VoiceoverBody"))
    assert set(voice_body["properties"]) == {"enabled", "voice", "speed"}
    breakdown = next(v for k, v in components.items() if k.endswith("CostBreakdown"))
    assert "voiceover" in breakdown["properties"]
