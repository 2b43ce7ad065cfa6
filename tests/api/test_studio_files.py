"""The studio's files over HTTP: served at / and /studio/… with a strict CSP, cached by ETag,
needing no key (they hold no data), and free of anything that would turn text into markup."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from adpipe.api.studio import CONTENT_SECURITY_POLICY, studio_files

from .conftest import Client

STUDIO = resources.files("adpipe.studio")


async def test_the_studio_page_is_served_at_the_root_with_a_strict_policy(
    anonymous: Client,
) -> None:
    page = await anonymous.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    policy = page.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' blob: data:"
    assert directives["media-src"] == "'self' blob:"
    assert "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert b'<script type="module" src="/studio/js/main.js"></script>' in page.body
    # The API itself still wants its key: the studio adds no open door to the data.
    assert (await anonymous.get("/api/v3/jobs")).status == 401


async def test_every_studio_file_is_served_with_its_type_and_the_policy(
    anonymous: Client,
) -> None:
    files = studio_files()
    assert {"/index.html", "/studio.css", "/icon.svg", "/js/main.js"} <= set(files)
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for path, file in files.items():
        if path == "/index.html":
            continue
        answer = await anonymous.get(f"/studio{path}")
        assert answer.status == 200, path
        assert answer.content_type == types[path[path.rindex(".") :]], path
        assert answer.body == file.body
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_an_unchanged_file_revalidates_to_304_and_head_sends_no_body(
    anonymous: Client,
) -> None:
    first = await anonymous.get("/studio/js/main.js")
    etag = first.headers["etag"]
    again = await anonymous.get("/studio/js/main.js", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert first.headers["cache-control"] == "no-cache"
    head = await anonymous.request("HEAD", "/studio/js/main.js")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(first.body))


@pytest.mark.parametrize(
    "path", ["/studio/nope.js", "/studio/../pyproject.toml", "/studio/__init__.py", "/studio/"]
)
async def test_only_the_studio_files_are_served(anonymous: Client, path: str) -> None:
    answer = await anonymous.get(path)
    assert answer.status == 404
    assert answer.content_type == "application/problem+json"


# Every way a string can become markup or code in a page.
HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"setTimeout\(\s*['\"`]|setInterval\(\s*['\"`]|createContextualFragment|DOMParser"
)


def test_the_scripts_build_the_page_from_nodes_never_from_markup_strings() -> None:
    scripts = [p for p in studio_files() if p.endswith(".js")]
    assert len(scripts) > 10
    for path in scripts:
        source = studio_files()[path].body.decode()
        assert not HTML_SINKS.search(source), f"{path}: {HTML_SINKS.search(source)}"
        # No module names another origin (the form's example URL is text, not a request).
        assert not re.search(r"https?://(?!cdn\.example\.com)\w[\w.-]*", source), path


def test_the_page_has_no_inline_script_style_or_handler() -> None:
    html = STUDIO.joinpath("index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script type="module" src="/studio/js/main.js">'
    ]
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
