"""The studio in headless Chromium against the real stack: the seed's four screens from an empty
account to a downloaded MP4, sign-in with wrong and revoked keys, validation errors at their
fields, user text that looks like markup, failed and cancelled jobs, and keyboard-only use."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from adpipe.api.keys import revoke_key
from testkit.media import jpeg_bytes

from .browser import Browser, error_next_to
from .calls import api_get, api_post, new_job, wait_for_job, wait_for_status
from .stack import StudioStack

# Records what a <progress> showed over time and the rendering screen's text: a render moves
# faster than a test can look.
WATCH = """
window.__seen = {progress: [], rendering: []};
new MutationObserver(() => {
  for (const bar of document.querySelectorAll('main progress[value]')) {
    if (window.__seen.progress.at(-1) !== bar.value) window.__seen.progress.push(bar.value);
  }
  const main = document.querySelector('main');
  if (main.querySelector('h1')?.textContent.startsWith('Creating')) {
    window.__seen.rendering.push(main.innerText);
  }
}).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def test_an_ad_goes_from_an_empty_account_to_a_downloaded_mp4(
    page: Browser, studio: StudioStack, tmp_path: Path
) -> None:
    key = studio.new_key("walker")
    # Another client with a campaign: the campaign dropdown must show only the chosen client's.
    globex = api_post(studio, key, "/api/v3/clients", {"name": "Globex"})
    api_post(studio, key, "/api/v3/campaigns", {"clientId": globex["id"], "name": "Globex Spring"})
    upload = tmp_path / "hero.jpg"
    upload.write_bytes(jpeg_bytes((40, 90, 220), size=(800, 600)))

    # ---- sign in, then the creation form -------------------------------------------------
    page.control("API key").send_keys(key, Keys.ENTER)
    page.arrive("Your Video Ads")
    page.button("+ New ad").click()
    page.arrive("Create Video Ad")
    client = Select(page.control("Client"))
    page.until(lambda d: [o.text for o in client.options] == ["Globex"], what="clients loaded")
    page.button("+ New client").click()
    page.control("New client name").send_keys("ACME Corp")
    page.button("Add client").click()
    page.until(lambda d: client.first_selected_option.text == "ACME Corp", what="ACME chosen")
    campaign = Select(page.control("Campaign"))
    page.until(lambda d: [o.text for o in campaign.options] == ["No campaign"])
    page.button("+ New campaign").click()
    page.control("New campaign name").send_keys("Q4 2025 Launch")
    page.button("Add campaign").click()
    page.until(lambda d: campaign.first_selected_option.text == "Q4 2025 Launch")
    client.select_by_visible_text("Globex")
    page.until(lambda d: [o.text for o in campaign.options] == ["No campaign", "Globex Spring"])
    client.select_by_visible_text("ACME Corp")
    page.until(lambda d: [o.text for o in campaign.options] == ["No campaign", "Q4 2025 Launch"])
    campaign.select_by_visible_text("Q4 2025 Launch")

    for label, value in [
        ("Product", "Smart Watch"),
        ("Audience", "Tech enthusiasts 25-40"),
        ("Message", "Stay connected"),
        ("CTA", "Buy Now"),
        ("Style", "Modern"),
        ("Tone (optional)", "Energetic"),
    ]:
        page.control(label).send_keys(value)
    duration = page.control("Duration (seconds)")
    duration.clear()
    duration.send_keys("6")
    Select(page.control("Resolution")).select_by_visible_text("720p")

    page.button("+ Add URL").click()
    page.control("Asset URL").send_keys(f"{studio.cdn.base}/product.jpg")
    page.button("Add").click()
    page.until(lambda d: "product.jpg" in page.text(), what="the URL asset listed")

    page.js(WATCH)
    page.driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(upload))
    thumbnail = "li.asset img.thumb"
    page.until(
        lambda d: page.js(
            "const i = document.querySelector(arguments[0]);"
            " return !!i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0",
            thumbnail,
        ),
        what="the uploaded file's thumbnail",
    )
    assert page.js("return window.__seen.progress.includes(100)"), "no upload progress bar"
    assert "Uploaded image" in page.text()
    page.check_screen("1-create")

    page.button("Create Video Ad").click()
    page.arrive("Storyboard Review - Smart Watch Ad", timeout=60)
    job_id = page.driver.current_url.rsplit("/", 1)[-1]
    # Read in one script, not element by element: the cards are redrawn as narrations arrive
    # (live, from the event stream), and an element found before a redraw is stale after it.
    numbers = page.js(
        "return [...document.querySelectorAll('li.scene')].map((c) => c.dataset.scene)"
    )
    assert 3 <= len(numbers) and numbers == [str(n) for n in range(1, len(numbers) + 1)]
    title = page.js("return document.querySelector(\"li.scene[data-scene='1'] h2\").innerText")
    assert title.startswith("Scene 1 (")
    page.until(
        lambda d: page.js(
            "return [...document.querySelectorAll('li.scene img.preview')]"
            ".every((i) => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0)"
        ),
        what="every scene's preview thumbnail",
    )
    # Every scene's narration plays in its card (the picture in the README shows them).
    wait_for_job(
        studio,
        key,
        job_id,
        lambda job: all(s["voiceover"]["status"] == "ready" for s in job["scenes"]),
    )
    page.until(
        lambda d: page.js(
            "const a = [...document.querySelectorAll('li.scene audio')];"
            " return a.length === document.querySelectorAll('li.scene').length"
            " && a.every((e) => e.readyState >= 1 && e.duration > 0)"
        ),
        what="every scene's narration loaded",
    )
    page.check_screen("2-storyboard")

    # ---- the live stream drops; the studio resumes it where it was ------------------------
    assert studio.call(studio.proxy.cut) > 0
    page.until(
        lambda d: page.js("return !document.querySelector('.connection').hidden"),
        what="the reconnecting notice",
    )
    page.until(
        lambda d: page.js("return document.querySelector('.connection').hidden"),
        what="the stream live again",
    )
    # The browser logs the stream we broke (and nothing else).
    assert (
        page.console_errors(
            allowed=[rf"/api/v3/jobs/{job_id}/events - Failed to load resource: net::ERR_"]
        )
        == []
    )

    # ---- regenerate scene 2 with feedback ------------------------------------------------
    # With the planner paused the regeneration stays pending: the card must say so, and every
    # button wait, for as long as it runs.
    before = page.scene_card(2).text
    studio.pause_planner()
    page.button("Regenerate", page.scene_card(2)).click()
    dialog = page.driver.find_element(By.TAG_NAME, "dialog")
    page.control("Feedback (optional)", dialog).send_keys("Make it calmer and longer")
    page.button("Regenerate", dialog).click()
    page.until(
        lambda d: page.scene_card(2).get_attribute("aria-busy") == "true", what="scene 2 busy"
    )
    assert "Regenerating this scene…" in page.scene_card(2).text
    assert page.scene_card(1).get_attribute("aria-busy") == "false"
    assert page.js("return [...document.querySelectorAll('main button')].every((b) => b.disabled)")
    page.screenshot("2-storyboard-regenerating")
    studio.resume_planner()
    page.until(
        lambda d: (
            page.scene_card(2).text != before
            and page.scene_card(2).get_attribute("aria-busy") == "false"
        ),
        timeout=30,
        what="scene 2 regenerated",
    )
    assert page.js("return [...document.querySelectorAll('main button')].some((b) => !b.disabled)")
    resumed = [
        h
        for h in studio.call(lambda: list(studio.proxy.request_heads))
        if f"/api/v3/jobs/{job_id}/events" in h.split("\r\n")[0]
    ]
    assert len(resumed) >= 2 and "last-event-id:" in resumed[-1].lower(), resumed

    # ---- edit scene 1 inline, saved with PUT --------------------------------------------
    page.button("Edit", page.scene_card(1)).click()
    description = page.control("Description", page.scene_card(1))
    description.clear()
    description.send_keys("Close-up of the watch face at dawn")
    page.button("Save", page.scene_card(1)).click()
    page.until(
        lambda d: "Close-up of the watch face at dawn" in page.scene_card(1).text,
        what="the edit saved",
    )
    scene = api_get(studio, key, f"/api/v3/jobs/{job_id}/scenes/1")
    assert scene["description"] == "Close-up of the watch face at dawn"

    # ---- approve and watch the render ---------------------------------------------------
    page.js("window.__seen.progress = []")  # from here on: the render's progress only
    gets_before = page.resource_names().count(f"{studio.origin}/api/v3/jobs/{job_id}")
    page.button("Approve ✓").click()
    page.button("Approve", page.driver.find_element(By.TAG_NAME, "dialog")).click()
    page.arrive("Creating Your Video Ad")
    page.arrive("Video Ready!", timeout=120)
    rendering = page.js("return window.__seen.rendering")
    assert any("Status: Rendering" in t for t in rendering), rendering
    assert any("Estimated time remaining:" in t and "Cancel Job" in t for t in rendering), rendering
    percents = [p for p in page.js("return window.__seen.progress") if p is not None]
    assert percents == sorted(percents) and any(0 < p < 100 for p in percents), percents
    assert any(f"{p}%" in t for t in rendering for p in percents if 0 < p < 100), rendering
    gets = page.resource_names().count(f"{studio.origin}/api/v3/jobs/{job_id}") - gets_before
    assert gets <= 8, (
        f"{gets} reads of the job while rendering: polling instead of following the stream?"
    )

    # ---- video ready: play, duration, cost, download -----------------------------------
    page.until(
        lambda d: page.js(
            "const v = document.querySelector('video');"
            " return v.readyState >= 1 && v.src.startsWith('blob:')"
        ),
        what="the video loaded",
    )
    done = api_get(studio, key, f"/api/v3/jobs/{job_id}")
    # 6 s asked; "calmer and longer" feedback on scene 2 may have lengthened the storyboard.
    assert (
        abs(page.js("return document.querySelector('video').duration") - done["durationSeconds"])
        < 0.3
    )
    page.driver.execute_async_script(
        "const [done] = arguments; const v = document.querySelector('video'); v.muted = true;"
        " v.play().then(() => done(true), (e) => done(String(e)));"
    )
    page.until(
        lambda d: page.js("return document.querySelector('video').currentTime > 0.2"),
        what="the video playing",
    )
    facts = {
        dt.text.strip(): dd.text.strip()
        for dt, dd in zip(
            page.driver.find_elements(By.CSS_SELECTOR, ".facts dt"),
            page.driver.find_elements(By.CSS_SELECTOR, ".facts dd"),
            strict=True,
        )
    }
    assert facts["Duration"] == f"{round(done['durationSeconds'], 1):g}s", facts
    assert facts["Cost"].startswith("$") and float(facts["Cost"][1:]) == round(
        done["cost"]["total"], 4
    ), facts
    page.js("document.querySelector('video').pause()")
    page.button("Download MP4").click()
    mp4 = page.downloads / "smart-watch-ad.mp4"
    page.until(lambda d: mp4.exists() and mp4.stat().st_size > 1000, what="the MP4 downloaded")
    assert mp4.read_bytes()[4:8] == b"ftyp"
    page.check_screen("4-video-ready")

    # ---- a reload keeps the screen; the jobs list shows the ad -------------------------
    page.driver.refresh()
    page.arrive("Video Ready!")
    page.button("Your ads").click()
    page.arrive("Your Video Ads")
    page.driver.refresh()  # the hash route brings the list back, still signed in
    page.arrive("Your Video Ads")
    item = page.driver.find_element(By.CSS_SELECTOR, "li.job")
    assert item.find_element(By.CSS_SELECTOR, "a.job-link").text == "Smart Watch"
    assert item.find_element(By.CSS_SELECTOR, ".status").text == "Completed"
    assert item.find_element(By.TAG_NAME, "time").get_attribute("datetime")
    page.until(
        lambda d: page.js(
            "const i = document.querySelector('li.job img.thumb'); return !!i && i.naturalWidth > 0"
        ),
        what="the job's thumbnail",
    )
    page.check_screen("5-jobs")

    assert page.console_errors() == []
    assert page.foreign_requests() == []


def tab_to(page: Browser, name: str, *, backwards: bool = False, limit: int = 40) -> None:
    """Presses Tab (or Shift+Tab) until the focused element's accessible name is `name`."""
    for _ in range(limit):
        keys = ActionChains(page.driver)
        if backwards:
            keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
        else:
            keys.send_keys(Keys.TAB)
        keys.perform()
        focused = page.js(
            "const e = document.activeElement;"
            " return e.getAttribute('aria-label') || (e.labels && e.labels[0]?.textContent)"
            " || e.textContent.trim()"
        )
        if focused == name:
            return
    raise AssertionError(f"{name!r} was not reached with the keyboard in {limit} presses")


def press(page: Browser, key: str) -> None:
    ActionChains(page.driver).send_keys(key).perform()


def focused_name(page: Browser) -> str:
    return str(
        page.js(
            "const e = document.activeElement;"
            " return e.getAttribute('aria-label') || (e.labels && e.labels[0]?.textContent)"
            " || e.textContent.trim()"
        )
    )


UNAUTHORIZED = r"Failed to load resource: the server responded with a status of 401"
UNPROCESSABLE = r"Failed to load resource: the server responded with a status of 422"


def test_a_wrong_or_revoked_key_returns_to_the_api_key_field(
    page: Browser, studio: StudioStack
) -> None:
    assert page.heading_has_focus()
    field = page.control("API key")
    assert field.get_attribute("type") == "password"
    field.send_keys("adp_not-a-key-of-anyone", Keys.ENTER)
    page.until(lambda d: "not accepted" in error_next_to(page, "API key"), what="the refusal")
    assert "unknown or has been revoked" in error_next_to(page, "API key")
    assert field.get_attribute("aria-invalid") == "true"
    assert page.js("return document.activeElement") == field
    assert page.js("return sessionStorage.length + localStorage.length") == 0
    page.check_screen("0-sign-in")

    key = studio.new_key("revoked")
    field.clear()
    field.send_keys(key, Keys.ENTER)
    page.arrive("Your Video Ads")
    assert page.js("return sessionStorage.getItem('adpipe.apiKey')") == key
    assert page.js("return localStorage.length") == 0
    assert key not in page.driver.current_url

    # Revoked while the tab is open: the next call returns to the key field, saying why.
    assert studio.run(lambda: revoke_key(studio.stack.core.pool, key))
    page.button("+ New ad").click()
    page.wait_heading("Sign in to adpipe studio")
    assert "no longer accepted" in error_next_to(page, "API key")
    assert focused_name(page) == "API key"
    assert page.js("return sessionStorage.length") == 0
    # A new key picks up where the user was going.
    page.control("API key").send_keys(studio.new_key("revoked"), Keys.ENTER)
    page.arrive("Create Video Ad")
    assert page.console_errors(allowed=[UNAUTHORIZED]) == []


def test_problems_show_next_to_their_fields_and_nothing_is_created(
    page: Browser, studio: StudioStack
) -> None:
    key = studio.new_key("validator")
    api_post(studio, key, "/api/v3/clients", {"name": "ACME"})
    page.use_key(key, "#/new")
    page.arrive("Create Video Ad")
    page.until(lambda d: Select(page.control("Client")).first_selected_option.text == "ACME")

    page.button("Create Video Ad").click()  # empty: the studio says what is missing
    assert error_next_to(page, "Product") == "Required."
    assert error_next_to(page, "Tone (optional)") == ""
    assert focused_name(page) == "Product"

    for label, value in [
        ("Product", "Smart Watch"),
        ("Audience", "Everyone"),
        ("Message", "Stay connected"),
        ("CTA", "Buy Now"),
        ("Style", "Modern"),
    ]:
        page.control(label).send_keys(value)
    duration = page.control("Duration (seconds)")
    duration.clear()
    duration.send_keys("150")
    page.button("Create Video Ad").click()  # the API's 422 names creative.durationSeconds
    page.until(lambda d: error_next_to(page, "Duration (seconds)"), what="the duration's error")
    assert error_next_to(page, "Duration (seconds)") == "Must be at most 120."
    assert duration.get_attribute("aria-invalid") == "true"
    assert focused_name(page) == "Duration (seconds)"
    assert error_next_to(page, "Product") == ""
    summary = page.driver.find_element(By.CSS_SELECTOR, ".error-summary")
    assert summary.text == "The ad could not be created: please correct the fields marked below."
    page.check_screen("1-create-errors")

    duration.clear()
    duration.send_keys("6")
    page.button("+ Add URL").click()
    page.control("Asset URL").send_keys("ftp://cdn.example.com/product.jpg")
    page.button("Add").click()
    page.button("Create Video Ad").click()  # 422 at creative.assets[0].url: shown on that asset
    row = page.driver.find_element(By.CSS_SELECTOR, "li.asset")
    page.until(lambda d: "http://" in row.text, what="the asset's error")
    assert "Must be a web address starting with http:// or https://." in row.text
    assert api_get(studio, key, "/api/v3/jobs")["total"] == 0
    assert page.console_errors(allowed=[UNPROCESSABLE]) == []


XSS = "<img src=x onerror=alert(1)>"


def test_user_text_that_looks_like_markup_is_shown_as_text(
    page: Browser, studio: StudioStack
) -> None:
    key = studio.new_key("mallory")
    job_id = new_job(studio, key, XSS)
    api_post(studio, key, "/api/v3/clients", {"name": "<b>Bold</b> & Co"})
    wait_for_status(studio, key, job_id, "storyboard_review")
    page.use_key(key, "#/jobs")
    page.arrive("Your Video Ads")
    assert page.driver.find_element(By.CSS_SELECTOR, "a.job-link").text == XSS
    page.button(XSS).click()
    page.arrive(f"Storyboard Review - {XSS} Ad")
    assert XSS in page.scene_card(1).text or "Storyboard" in page.heading()
    page.open("#/new")
    page.arrive("Create Video Ad")
    client = Select(page.control("Client"))
    page.until(lambda d: "<b>Bold</b> & Co" in [o.text for o in client.options])
    assert page.js("return document.querySelectorAll('img[src=\"x\"], b').length") == 0
    try:
        alert = page.driver.switch_to.alert
    except NoAlertPresentException:
        alert = None
    assert alert is None, "a user's text ran as script"
    assert page.console_errors() == []


def test_failed_and_cancelled_jobs_have_screens_of_their_own(
    page: Browser, studio: StudioStack
) -> None:
    key = studio.new_key("unlucky")
    missing = new_job(studio, key, "Lost Watch", assets=[{"url": f"{studio.cdn.base}/missing.jpg"}])
    page.use_key(key, f"#/jobs/{missing}")
    page.arrive("Video Failed", timeout=60)
    error = api_get(studio, key, f"/api/v3/jobs/{missing}")["error"]
    assert page.driver.find_element(By.CSS_SELECTOR, ".error-message").text == error["message"]
    page.check_screen("6-failed")

    # A long render, cancelled from the rendering screen.
    long = new_job(studio, key, "Long Watch", durationSeconds=60, resolution="1080p")
    wait_for_status(studio, key, long, "storyboard_review")
    api_post(studio, key, f"/api/v3/jobs/{long}/actions", {"action": "approve_storyboard"})
    page.open(f"#/jobs/{long}")
    page.arrive("Creating Your Video Ad")
    page.until(
        lambda d: page.js("return document.querySelector('main progress').value") > 0,
        timeout=60,
        what="render progress",
    )
    page.until(lambda d: "Estimated time remaining: calculating" not in page.text())
    page.check_screen("3-rendering")
    page.button("Cancel Job").click()
    page.button("Cancel Job", page.driver.find_element(By.TAG_NAME, "dialog")).click()
    page.arrive("Job Cancelled")
    assert api_get(studio, key, f"/api/v3/jobs/{long}")["status"] == "cancelled"
    page.check_screen("7-cancelled")

    # Cancelled while its storyboard is still being planned (its asset never arrives).
    slow = new_job(studio, key, "Slow Watch", assets=[{"url": f"{studio.cdn.base}/slow.jpg"}])
    page.open(f"#/jobs/{slow}")
    page.arrive("Planning Your Storyboard")
    page.check_screen("1-planning")
    page.button("Cancel Job").click()
    page.button("Cancel Job", page.driver.find_element(By.TAG_NAME, "dialog")).click()
    page.arrive("Job Cancelled")
    assert page.console_errors() == []
    assert page.foreign_requests() == []


def test_the_storyboard_works_from_the_keyboard_alone(page: Browser, studio: StudioStack) -> None:
    key = studio.new_key("keyboard")
    job_id = new_job(studio, key, "Keyboard Watch")
    wait_for_status(studio, key, job_id, "storyboard_review")

    press(page, Keys.TAB)
    assert focused_name(page) == "API key"
    press(page, key)
    press(page, Keys.ENTER)
    page.arrive("Your Video Ads")
    tab_to(page, "Keyboard Watch")
    press(page, Keys.ENTER)
    page.arrive("Storyboard Review - Keyboard Watch Ad")

    tab_to(page, "Regenerate scene 1")
    press(page, Keys.ENTER)
    page.until(lambda d: focused_name(page) == "Feedback (optional)", what="focus in the dialog")
    press(page, Keys.ESCAPE)
    page.until(lambda d: not page.driver.find_elements(By.TAG_NAME, "dialog"))
    assert focused_name(page) == "Regenerate scene 1"

    tab_to(page, "Edit scene 1", backwards=True)
    press(page, Keys.ENTER)
    page.until(lambda d: focused_name(page) == "Description", what="focus in the editor")
    tab_to(page, "Cancel")
    press(page, Keys.ENTER)
    assert focused_name(page) == "Edit scene 1"
    assert page.console_errors() == []


SSE_SAMPLE = (
    'id: 1\r\nevent: job.created\r\ndata: {"a":1}\r\n\r\n'
    ": heartbeat\n\n"
    "data: line1\ndata: line2\rid: 2\r\r"
    "event: x\ndata\n\n"
)


def test_the_event_stream_parser_gives_the_same_messages_however_the_bytes_are_split(
    page: Browser,
) -> None:
    result = page.driver.execute_async_script(
        """
        const [text, done] = arguments;
        import('/studio/js/sse.js').then(({ SseParser }) => {
          const whole = JSON.stringify(new SseParser().push(text));
          const differ = [];
          for (let i = 0; i <= text.length; i += 1) {
            for (let j = i; j <= text.length; j += 1) {
              const p = new SseParser();
              const got = [...p.push(text.slice(0, i)), ...p.push(text.slice(i, j)),
                           ...p.push(text.slice(j))];
              if (JSON.stringify(got) !== whole) differ.push([i, j]);
            }
          }
          done({ messages: JSON.parse(whole), differ: differ.slice(0, 5) });
        }, (error) => done({ error: String(error) }));
        """,
        SSE_SAMPLE,
    )
    assert result.get("error") is None, result
    assert result["messages"] == [
        {"event": "job.created", "data": '{"a":1}', "id": "1"},
        {"event": "message", "data": "line1\nline2", "id": "2"},
        {"event": "x", "data": "", "id": "2"},
    ]
    assert result["differ"] == []


def test_rejecting_asks_what_to_change_and_replans_every_scene(
    page: Browser, studio: StudioStack
) -> None:
    key = studio.new_key("critic")
    job_id = new_job(studio, key, "Critic Watch")
    wait_for_status(studio, key, job_id, "storyboard_review")
    page.use_key(key, f"#/jobs/{job_id}")
    page.arrive("Storyboard Review - Critic Watch Ad")
    before = [c.text for c in page.driver.find_elements(By.CSS_SELECTOR, "li.scene")]

    page.button("Reject").click()
    dialog = page.driver.find_element(By.TAG_NAME, "dialog")
    page.button("Reject", dialog).click()  # no feedback: the dialog says it is needed
    assert error_next_to(page, "What should change?").startswith("Say what should change")
    assert focused_name(page) == "What should change?"
    page.control("What should change?", dialog).send_keys("Slower, calmer, more product close-ups")
    studio.pause_planner()
    page.button("Reject", dialog).click()
    # While it is replanned, every card says so and no button can be pressed.
    page.until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "li.scene[aria-busy='true']")) == len(before)
        ),
        what="every card busy",
    )
    assert "Planning a new storyboard from your feedback" in page.text()
    assert page.js("return [...document.querySelectorAll('main button')].every((b) => b.disabled)")
    studio.resume_planner()
    page.until(
        lambda d: (
            [c.text for c in d.find_elements(By.CSS_SELECTOR, "li.scene")] != before
            and not d.find_elements(By.CSS_SELECTOR, "li.scene[aria-busy='true']")
        ),
        timeout=30,
        what="a new storyboard",
    )
    assert api_get(studio, key, f"/api/v3/jobs/{job_id}")["pendingAction"] is None
    assert page.console_errors() == []
