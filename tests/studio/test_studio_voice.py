"""The studio speaks: the creation form offers the deployment's voices (from GET /voices) and
sends the chosen one, each storyboard card plays its scene's narration and says when one is being
made, a regenerated or edited scene's player gets the new audio, the storyboard shows what fitting
the speech changed, and the finished video carries its subtitles as a text track — in headless
Chromium against the real stack, with the real (offline, espeak-ng) voice service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from .browser import Browser, error_next_to
from .calls import api_get, api_post, wait_for_job
from .stack import StudioStack

UNPROCESSABLE = r"Failed to load resource: the server responded with a status of 422"

# Each card's narration player: its scene, its blob: URL and what the browser read from the
# audio's metadata (readyState >= 1 means `loadedmetadata` has fired).
PLAYERS = """
return [...document.querySelectorAll('li.scene')].map((card) => {
  const audio = card.querySelector('audio');
  return {
    scene: Number(card.dataset.scene),
    src: audio ? audio.src : null,
    name: audio ? audio.getAttribute('aria-label') : null,
    duration: audio && audio.readyState >= 1 ? audio.duration : null,
    pending: card.querySelector('.narration-pending') !== null,
  };
});
"""

# The video's first text track, once its cues have loaded.
SUBTITLES = """
const video = document.querySelector('video');
const track = video && video.querySelector('track');
if (!track || track.readyState !== 2) return null;
const cues = [...video.textTracks[0].cues];
return {
  kind: track.kind, srclang: track.srclang, label: track.label, default: track.default,
  src: track.src, mode: video.textTracks[0].mode,
  cues: cues.map((c) => ({start: c.startTime, end: c.endTime, text: c.text})),
};
"""


def fill_in_the_ad(page: Browser, product: str) -> None:
    for label, value in [
        ("Product", product),
        ("Audience", "Commuters"),
        ("Message", "Hear every word"),
        ("CTA", "Listen Now"),
        ("Style", "Modern"),
    ]:
        page.control(label).send_keys(value)
    duration = page.control("Duration (seconds)")
    duration.clear()
    duration.send_keys("6")
    Select(page.control("Resolution")).select_by_visible_text("720p")


def players(page: Browser) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.js(PLAYERS)
    return found


def narrations_heard(page: Browser, job: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The players, once every scene the API says is narrated has one with its audio loaded
    at the narration's length; None until then."""
    shown = {p["scene"]: p for p in players(page)}
    for scene in job["scenes"]:
        player = shown.get(scene["sceneNumber"])
        if player is None or player["duration"] is None:
            return None
        if abs(player["duration"] - scene["voiceover"]["durationSeconds"]) > 0.05:
            return None
    return list(shown.values())


def test_the_chosen_voice_is_heard_on_every_scene_and_in_the_subtitles(
    page: Browser, studio: StudioStack
) -> None:
    key = studio.new_key("listener")
    api_post(studio, key, "/api/v3/clients", {"name": "Sonic"})
    voices = api_get(studio, key, "/api/v3/voices")
    page.use_key(key, "#/new")
    page.arrive("Create Video Ad")

    # ---- the form offers exactly the API's voices, the default chosen -------------------
    assert page.control("Voiceover").is_selected()
    voice = Select(page.control("Voice"))
    page.until(lambda d: page.control("Voice").is_enabled(), what="the voices listed")
    assert {o.get_attribute("value") for o in voice.options} == {v["name"] for v in voices["items"]}
    assert voice.first_selected_option.get_attribute("value") == voices["default"]
    british = next(o for o in voice.options if o.get_attribute("value") == "en-gb")
    assert british.text == "English (United Kingdom) · en-gb"
    speed = page.control("Speed")
    assert float(speed.get_attribute("min")) == voices["speedMin"]
    assert float(speed.get_attribute("max")) == voices["speedMax"]

    fill_in_the_ad(page, "Loud Speaker")
    voice.select_by_value("en-gb")
    speed.clear()
    speed.send_keys("1.2")
    page.check_screen("1-create-voice")
    page.button("Create Video Ad").click()
    page.arrive("Storyboard Review - Loud Speaker Ad", timeout=60)
    job_id = page.driver.current_url.rsplit("/", 1)[-1]
    job = api_get(studio, key, f"/api/v3/jobs/{job_id}")
    assert job["creative"]["voiceover"] == {"enabled": True, "voice": "en-gb", "speed": 1.2}

    # ---- every scene plays its narration ----------------------------------------------
    job = narrated(studio, key, job_id)
    heard = page.until(lambda d: narrations_heard(page, job), 30, "every narration loaded")
    assert all(p["duration"] > 0 and p["src"].startswith("blob:") for p in heard), heard
    assert [p["name"] for p in heard] == [f"Narration of scene {p['scene']}" for p in heard]
    first = job["scenes"][0]["voiceover"]
    assert f"spoken by en-gb at {first['speed']:g}×" in page.scene_card(1).text
    page.check_screen("2-storyboard-narration")

    # ---- a regenerated scene is "Narration pending…", then plays its new audio --------
    before = {p["scene"]: p for p in heard}
    words_before = job["scenes"][1]["voiceover"]["words"]
    studio.pause_voice()
    try:
        page.button("Regenerate", page.scene_card(2)).click()
        dialog = page.driver.find_element(By.TAG_NAME, "dialog")
        page.control("Feedback (optional)", dialog).send_keys("5 seconds, with more text")
        page.button("Regenerate", dialog).click()
        page.until(
            lambda d: "Narration pending…" in page.scene_card(2).text,
            30,
            "scene 2's narration pending",
        )
        assert page.scene_card(2).find_elements(By.TAG_NAME, "audio") == []
        page.screenshot("2-storyboard-narration-pending")
    finally:
        studio.resume_voice()
    job = narrated(studio, key, job_id, lambda job: job["scenes"][1]["duration"] == 5)
    heard = page.until(lambda d: narrations_heard(page, job), 30, "the new narration loaded")
    after = {p["scene"]: p for p in heard}
    # A new script, a new take: a new blob, and the player reads the new narration's length.
    assert job["scenes"][1]["voiceover"]["words"] != words_before
    assert after[2]["src"] != before[2]["src"]
    assert after[2]["duration"] != before[2]["duration"], (before[2], after[2])
    assert after[1]["src"] == before[1]["src"]  # untouched scenes keep their audio

    # ---- an edit too long for its scene: the scene grows, and the storyboard says so -----
    page.button("Edit", page.scene_card(1)).click()
    card = page.scene_card(1)
    script = page.control("Script", card)
    script.clear()
    long_script = (
        "Listen closely: every single word of this much longer script is spoken clearly"
        " from the first syllable to the last"
    )
    script.send_keys(long_script)
    duration = page.control("Duration (seconds)", card)
    duration.clear()
    duration.send_keys("2")
    page.button("Save", card).click()
    job = narrated(studio, key, job_id, lambda job: job["scenes"][0]["script"] == long_script)
    assert job["adjustments"] and job["adjustments"][0].startswith("Scene 1:"), job["adjustments"]
    page.until(lambda d: narrations_heard(page, job), 30, "the edited scene's narration")
    fitted = page.driver.find_element(By.CSS_SELECTOR, ".adjustments")
    page.until(lambda d: job["adjustments"][0] in fitted.text, what="the adjustment shown")
    assert job["scenes"][0]["voiceover"]["note"] in page.scene_card(1).text
    page.until(
        lambda d: (
            page.scene_card(1).find_element(By.TAG_NAME, "h2").text
            == f"Scene 1 ({round(job['scenes'][0]['duration'], 1):g}s)"
        ),
        what="scene 1's new length",
    )

    # ---- approved and rendered: the video has its subtitles ---------------------------
    page.button("Approve ✓").click()
    page.button("Approve", page.driver.find_element(By.TAG_NAME, "dialog")).click()
    page.arrive("Video Ready!", timeout=120)
    subtitles = page.until(lambda d: page.js(SUBTITLES), 30, "the subtitles' cues loaded")
    assert subtitles["kind"] == "subtitles" and subtitles["default"] is True, subtitles
    assert subtitles["mode"] == "showing" and subtitles["src"].startswith("blob:"), subtitles
    assert subtitles["srclang"] == "en-GB"
    assert subtitles["label"] == "Subtitles (English (United Kingdom))"
    assert len(subtitles["cues"]) > 0
    assert subtitles["cues"][0]["text"].split()[0].strip(":,.") == "Listen"
    page.js(
        "const v = document.querySelector('video'); v.currentTime = arguments[0];",
        (subtitles["cues"][0]["start"] + subtitles["cues"][0]["end"]) / 2,
    )
    page.until(
        lambda d: page.js(
            "return document.querySelector('video').textTracks[0].activeCues.length > 0"
        ),
        what="a caption showing",
    )
    page.check_screen("4-video-ready-subtitles")
    assert page.console_errors() == []
    assert page.foreign_requests() == []


def narrated(
    studio: StudioStack,
    key: str,
    job_id: str,
    changed: Callable[[dict[str, Any]], bool] = lambda job: True,
) -> dict[str, Any]:
    """The job once it has `changed`, no regeneration runs and every scene is narrated."""
    return wait_for_job(
        studio,
        key,
        job_id,
        lambda job: (
            changed(job)
            and job["pendingAction"] is None
            and all(s["voiceover"]["status"] == "ready" for s in job["scenes"])
        ),
    )


def test_a_speed_out_of_range_is_shown_at_the_speed_field_and_a_silent_ad_can_be_made(
    page: Browser, studio: StudioStack
) -> None:
    key = studio.new_key("pacer")
    api_post(studio, key, "/api/v3/clients", {"name": "Pace"})
    voices = api_get(studio, key, "/api/v3/voices")
    page.use_key(key, "#/new")
    page.arrive("Create Video Ad")
    page.until(lambda d: page.control("Voice").is_enabled(), what="the voices listed")
    fill_in_the_ad(page, "Quick Talker")
    speed = page.control("Speed")
    speed.clear()
    speed.send_keys(str(voices["speedMax"] + 1))
    page.button("Create Video Ad").click()  # the API's 422 names creative.voiceover.speed
    page.until(lambda d: error_next_to(page, "Speed"), what="the speed's error")
    assert error_next_to(page, "Speed") == f"Must be at most {voices['speedMax']:g}."
    assert speed.get_attribute("aria-invalid") == "true"
    assert page.js("return document.activeElement") == speed
    assert api_get(studio, key, "/api/v3/jobs")["total"] == 0
    page.screenshot("1-create-speed-error")

    # Off: voice and speed wait, and the job is made without a voiceover.
    page.control("Voiceover").click()
    assert not page.control("Voice").is_enabled() and not speed.is_enabled()
    page.button("Create Video Ad").click()
    page.arrive("Storyboard Review - Quick Talker Ad", timeout=60)
    job_id = page.driver.current_url.rsplit("/", 1)[-1]
    job = api_get(studio, key, f"/api/v3/jobs/{job_id}")
    assert job["creative"]["voiceover"]["enabled"] is False
    assert {s["voiceover"]["status"] for s in job["scenes"]} == {"none"}
    assert page.driver.find_elements(By.CSS_SELECTOR, "li.scene audio, li.scene .narration") == []
    assert page.console_errors(allowed=[UNPROCESSABLE]) == []
