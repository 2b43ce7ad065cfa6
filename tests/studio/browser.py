"""A thin layer over Selenium for the studio's tests: find things as a person would (by their
label or visible text), wait with explicit timeouts, and check what every screen must hold —
accessible names, AA contrast, no console errors, no request to another origin."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
WAIT = 15.0
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}

# Every visible control's accessible name, as assistive technology would compute it (the parts
# of the algorithm the studio uses: aria-labelledby, aria-label, <label>, content, alt).
UNNAMED_CONTROLS = """
const nameOf = (el) => {
  const byIds = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent || '').join(' ').trim();
  if (byIds) return byIds;
  const aria = (el.getAttribute('aria-label') || '').trim();
  if (aria) return aria;
  const labels = [...(el.labels || [])].map((l) => l.textContent).join(' ').trim();
  if (labels) return labels;
  if (el.tagName === 'IMG') return el.hasAttribute('alt') ? '(decorative)' : '';
  if (['BUTTON', 'A'].includes(el.tagName)) return el.textContent.trim();
  return '';
};
const shown = (el) => el.getClientRects().length > 0 && !el.closest('[aria-hidden="true"]');
const controls = ['input', 'select', 'textarea', 'button', 'a[href]', 'progress', 'video', 'audio',
  'img', '[role="img"]', 'dialog'].join(', ');
return [...document.querySelectorAll(controls)]
  .filter(shown).filter((el) => !nameOf(el)).map((el) => el.outerHTML.slice(0, 160));
"""

# WCAG 2 contrast of every visible piece of text against what is painted behind it.
LOW_CONTRAST = """
const parse = (c) => {
  const m = /rgba?\\(([^)]+)\\)/.exec(c);
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, bottom) =>
  [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
const behind = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  return layers.reverse().reduce((bg, layer) => over(layer, bg), [255, 255, 255, 1]);
};
const lum = (rgb) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
};
const problems = [];
for (const el of document.querySelectorAll('body *')) {
  if (!el.getClientRects().length || el.closest('[aria-hidden="true"], .visually-hidden')) continue;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
  const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
    || (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.type !== 'file');
  if (!text) continue;
  const bg = behind(el);
  const fg = over(parse(style.color), bg);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) {
    problems.push(`${ratio.toFixed(2)}: ${el.outerHTML.slice(0, 120)}`);
  }
}
return problems;
"""


@dataclass
class Browser:
    driver: WebDriver
    origin: str
    screenshots: Path
    downloads: Path

    # ---- navigation and waiting -------------------------------------------------------------

    def reset(self) -> None:
        """Signed out, on the studio, with the console log drained and a desktop viewport."""
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.get(f"{self.origin}/")
        self.driver.execute_script("sessionStorage.clear(); localStorage.clear();")
        self.driver.get(f"{self.origin}/#/jobs")
        self.wait_heading("Sign in to adpipe studio")
        self.driver.get_log("browser")

    def open(self, hash_route: str) -> None:
        self.driver.get(f"{self.origin}/{hash_route}")

    def use_key(self, key: str, hash_route: str = "#/jobs") -> None:
        """Signed in without the form (the sign-in itself has its own test)."""
        self.driver.get(f"{self.origin}/")
        self.driver.execute_script("sessionStorage.setItem('adpipe.apiKey', arguments[0])", key)
        self.open(hash_route)

    def until(
        self, condition: Callable[[WebDriver], T], timeout: float = WAIT, what: str = ""
    ) -> T:
        try:
            return WebDriverWait(
                self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)
            ).until(condition)
        except TimeoutException:
            raise AssertionError(
                f"within {timeout} s: {what or condition}; the page shows {self.heading()!r}"
            ) from None

    def heading(self) -> str:
        found = self.driver.find_elements(By.CSS_SELECTOR, "main h1")
        return found[0].text.strip() if found else ""

    def wait_heading(self, text: str, timeout: float = WAIT) -> None:
        self.until(lambda d: self.heading().startswith(text), timeout, f"heading {text!r}")

    def heading_has_focus(self) -> bool:
        return bool(
            self.driver.execute_script(
                "return document.activeElement === document.querySelector('main h1')"
            )
        )

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    # ---- finding things as a person would ---------------------------------------------------

    def control(self, label: str, within: WebElement | None = None) -> WebElement:
        """The form control whose <label> reads exactly `label`."""
        scope: Any = within or self.driver
        found = scope.find_element(By.XPATH, f".//label[normalize-space()={_xpath(label)}]")
        return self.driver.find_element(By.ID, found.get_attribute("for"))

    def button(self, text: str, within: WebElement | None = None) -> WebElement:
        """The visible button (or button-styled link) whose text reads exactly `text`."""
        scope: Any = within or self.driver
        literal = _xpath(text)
        candidates = scope.find_elements(
            By.XPATH,
            f".//button[normalize-space()={literal}] | .//a[normalize-space()={literal}]",
        )
        shown = [c for c in candidates if c.is_displayed()]
        assert shown, f"no visible button {text!r} on {self.heading()!r}"
        return shown[0]

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "main").text)

    def scene_card(self, number: int) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, f"li.scene[data-scene='{number}']")

    # ---- what every screen must hold --------------------------------------------------------

    def arrive(self, heading: str, timeout: float = WAIT) -> None:
        """Waits for the screen with `heading`, which must have the keyboard focus (a screen
        change moves focus to its heading, so screen readers announce it)."""
        self.wait_heading(heading, timeout)
        self.until(lambda d: self.heading_has_focus(), 2, f"focus on the heading {heading!r}")

    def check_screen(self, name: str) -> None:
        """Every control named, all text at AA contrast; screenshots at desktop and phone width."""
        assert not self.js(UNNAMED_CONTROLS), (
            f"{name}: unnamed controls {self.js(UNNAMED_CONTROLS)}"
        )
        low = self.js(LOW_CONTRAST)
        assert not low, f"{name}: text below WCAG AA contrast: {low}"
        self.screenshot(name)
        self.screenshot(name, phone=True)

    def console_errors(self, allowed: Iterable[str] = ()) -> list[str]:
        """SEVERE console entries since the last call, less those matching `allowed` patterns."""
        patterns = [re.compile(p) for p in allowed]
        entries = self.driver.get_log("browser")
        return [
            e["message"]
            for e in entries
            if e["level"] == "SEVERE" and not any(p.search(e["message"]) for p in patterns)
        ]

    def foreign_requests(self) -> list[str]:
        names: list[str] = self.js(
            "return performance.getEntriesByType('resource').map((e) => e.name)"
        )
        return [n for n in names if not n.startswith((f"{self.origin}/", "blob:", "data:"))]

    def resource_names(self) -> list[str]:
        names: list[str] = self.js(
            "return performance.getEntriesByType('resource').map((e) => e.name)"
        )
        return names

    def screenshot(self, name: str, *, phone: bool = False) -> Path:
        """The whole page as PNG under build/screenshots (at 390 px wide when `phone`)."""
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}{'-phone' if phone else ''}.png"
        cdp = self.driver.execute_cdp_cmd
        if phone:
            cdp("Emulation.setDeviceMetricsOverride", PHONE)
        try:
            self.driver.execute_async_script(
                "requestAnimationFrame(() => requestAnimationFrame(arguments[0]))"
            )
            size = cdp("Page.getLayoutMetrics", {})["cssContentSize"]
            clip = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], 8000),
                "scale": 1,
            }
            shot = cdp(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "clip": clip},
            )
            path.write_bytes(base64.b64decode(shot["data"]))
        finally:
            if phone:
                cdp("Emulation.clearDeviceMetricsOverride", {})
        return path


def error_next_to(page: Browser, label: str) -> str:
    """The error shown with the field labelled `label` ('' when none)."""
    control = page.control(label)
    node = page.driver.find_element(By.ID, f"{control.get_attribute('id')}-error")
    return str(node.text) if node.is_displayed() else ""


def _xpath(text: str) -> str:
    """`text` as an XPath string literal (XPath 1.0 has no escapes: concat() the quotes)."""
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ", '\"', ".join(json.dumps(p) for p in text.split('"')) + ")"
