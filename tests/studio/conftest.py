"""Fixtures for the studio's browser tests: one adpipe stack and one headless Chromium per module.

The browser is Debian's `chromium` driven by its `chromedriver` (`make test` installs both); no
browser is ever downloaded. Its flags keep it from calling home, and a fresh profile folder keeps
every run alike.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from adpipe.runtime.nats import EmbeddedNats
from adpipe.runtime.postgres import EmbeddedPostgres
from testkit.stack import loopback_settings

from .browser import Browser
from .stack import StackThread, StudioStack

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--window-size=1280,900",
)
_databases = itertools.count(1)


def chromium_binary() -> str:
    """The browser itself; Debian's /usr/bin/chromium is a wrapper script that adds flags (and
    Google API keys) we do not want, so the binary it execs is preferred."""
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "Chromium is not installed: run `make test` (it installs Debian's chromium and"
        " chromium-driver) or `apt-get install chromium chromium-driver`"
    )


def chromedriver() -> str:
    for candidate in (shutil.which("chromedriver"), "/usr/bin/chromedriver"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "chromedriver is not installed: run `make test` or `apt-get install chromium-driver`"
    )


@pytest.fixture(scope="module")
def studio_database(pg_server: EmbeddedPostgres, template_database: str) -> Iterator[str]:
    """A fresh migrated database for this module's stack (the root one is per test)."""
    name = f"studio_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield pg_server.url(name)
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def studio(
    studio_database: str, nats_server: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StudioStack]:
    settings = loopback_settings(
        studio_database,
        nats_server.start(),
        max_deliver=3,
        download_retries=1,
        storyboard_wait_seconds=30.0,
        upload_max_bytes=20 * 1024 * 1024,
    )
    thread = StackThread(settings, tmp_path_factory.mktemp("studio-files"))
    running = thread.start()
    try:
        yield running
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def browser(studio: StudioStack) -> Iterator[Browser]:
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look anything up
    os.environ.setdefault("SE_AVOID_STATS", "true")
    profile = Path(tempfile.mkdtemp(prefix="adpipe-chromium-"))
    downloads = profile / "downloads"
    downloads.mkdir()
    options = Options()
    options.binary_location = chromium_binary()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver()))
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield Browser(driver, studio.origin, SCREENSHOTS, downloads)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Browser) -> Browser:
    """The browser on a blank studio: signed out, console log drained, desktop size."""
    browser.reset()
    return browser
