"""Fetching over real HTTP from a local server on 127.0.0.1: limits, redirects, retries, SSRF.

All traffic stays on loopback; a "public" host is faked with a stub resolver and a guard that
trusts 127.0.0.1 as that host's answer.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest
from aiohttp import web

from adpipe.services.downloader.engine import (
    DownloadError,
    DownloadLimits,
    FetchedFile,
    UrlGuard,
    UrlRefused,
    fetch_to_file,
    make_session,
)
from testkit.loopback import serve_app

if TYPE_CHECKING:
    from testkit.samples import Samples

KB = 1024
FAST = DownloadLimits(
    connect_timeout=2,
    read_timeout=2,
    total_timeout=20,
    retries=2,
    retry_base_delay=0.01,
    max_retry_after=1,
    max_bytes={"image": 1024 * KB, "video": 4096 * KB, "audio": 1024 * KB},
)
OPEN = UrlGuard(allow_private=True)


class Server(msgspec.Struct, kw_only=True):
    base: str
    port: int
    hits: collections.Counter[str]


class StubResolver:
    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        # One list of addresses per lookup, the last repeated: lets a name change its answer.
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def fake_public(answers: dict[str, list[list[str]]]) -> tuple[UrlGuard, StubResolver]:
    """A guard that is on, for which the given names are public hosts living on 127.0.0.1."""
    resolver = StubResolver(answers)
    guard = UrlGuard(
        allow_private=False, resolver=resolver, trusted_addresses=frozenset({"127.0.0.1"})
    )
    return guard, resolver


def _app(samples: Samples, hits: collections.Counter[str]) -> web.Application:
    files = {
        "/image.jpg": (samples.jpeg, "image/jpeg"),
        "/image.png": (samples.png, "image/png"),
        "/png-labelled-jpeg": (samples.png, "image/jpeg"),
        "/video.mp4": (samples.mp4, "video/mp4"),
        "/page.html": (samples.html, "image/jpeg"),
    }

    def counted(handler: Callable[[web.Request], object]) -> Callable[[web.Request], object]:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            hits[request.path] += 1
            return await handler(request)  # type: ignore[no-any-return,misc]

        return wrapper

    async def serve_file(request: web.Request) -> web.Response:
        path, content_type = files[request.path]
        return web.Response(body=path.read_bytes(), content_type=content_type)

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def flaky(request: web.Request) -> web.Response:
        if hits[request.path] == 1:
            return web.Response(status=500, text="try again")
        return web.Response(body=samples.jpeg.read_bytes(), content_type="image/jpeg")

    async def too_many(request: web.Request) -> web.Response:
        if hits[request.path] == 1:
            return web.Response(status=429, headers={"Retry-After": request.match_info["secs"]})
        return web.Response(body=samples.jpeg.read_bytes(), content_type="image/jpeg")

    async def reset(request: web.Request) -> web.StreamResponse:
        if hits[request.path] > 1:
            return web.Response(body=samples.jpeg.read_bytes(), content_type="image/jpeg")
        response = web.StreamResponse(headers={"Content-Length": "100000"})
        await response.prepare(request)
        await response.write(b"\xff\xd8\xff" + b"\x00" * 997)
        assert request.transport is not None
        request.transport.abort()  # the connection drops mid-body
        return response

    async def drip(request: web.Request) -> web.StreamResponse:
        # Headers and a first chunk, then silence longer than the test's read timeout.
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        await response.write(b"\xff\xd8\xff" + b"\x00" * 100)
        await asyncio.sleep(float(request.query.get("pause", "1")))
        await response.write(b"\x00" * 100)
        return response

    async def trickle(request: web.Request) -> web.StreamResponse:
        # Never silent for long, never done: only the total timeout ends it.
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        for _ in range(2000):
            await response.write(b"\x00")
            await asyncio.sleep(0.02)
        return response

    async def big_declared(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00" * (2048 * KB), content_type="image/jpeg")

    async def big_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(256):  # 16 MiB unless the client hangs up first
            await response.write(b"\x00" * (64 * KB))
        return response

    async def chain(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        if left == 0:
            return web.Response(body=samples.jpeg.read_bytes(), content_type="image/jpeg")
        # A relative Location, resolved against the current URL.
        raise web.HTTPFound(str(left - 1))

    def redirect_to(location: str | None, status: int = 302) -> Callable[[web.Request], object]:
        async def handler(request: web.Request) -> web.Response:
            target = location.format(port=request.url.port) if location else None
            headers = {"Location": target} if target else {}
            return web.Response(status=status, headers=headers)

        return handler

    app = web.Application()
    for path in files:
        app.router.add_get(path, counted(serve_file))
    routes: dict[str, Callable[[web.Request], object]] = {
        "/status/{code}": status,
        "/flaky": flaky,
        "/429/{secs}": too_many,
        "/reset": reset,
        "/drip": drip,
        "/trickle": trickle,
        "/big-declared": big_declared,
        "/big-stream": big_stream,
        "/chain/{n}": chain,
        "/loop/a": redirect_to("/loop/b", 301),
        "/loop/b": redirect_to("http://127.0.0.1:{port}/loop/a#again", 307),
        "/to-image": redirect_to("/image.jpg", 308),
        "/to-loopback": redirect_to("http://127.0.0.1:{port}/image.jpg"),
        "/to-ipv6-loopback": redirect_to("http://[::1]:{port}/image.jpg"),
        "/to-internal-name": redirect_to("http://internal.test:{port}/image.jpg"),
        "/to-file": redirect_to("file:///etc/passwd"),
        "/no-location": redirect_to(None),
    }
    for path, handler in routes.items():
        app.router.add_get(path, counted(handler))
    return app


@pytest.fixture(scope="module")
async def server(samples: Samples) -> AsyncIterator[Server]:
    hits: collections.Counter[str] = collections.Counter()
    async with serve_app(_app(samples, hits), shutdown_timeout=0.5) as base:
        yield Server(base=base, port=int(base.rsplit(":", 1)[1]), hits=hits)


@pytest.fixture(autouse=True)
def _fresh_hits(server: Server) -> None:
    server.hits.clear()


async def fetch(
    url: str,
    dest_dir: Path,
    *,
    declared: str = "image",
    limits: DownloadLimits = FAST,
    guard: UrlGuard = OPEN,
) -> FetchedFile:
    async with make_session(guard, limits) as session:
        return await fetch_to_file(session, url, declared, dest_dir, limits, guard)


async def fetch_fails(url: str, dest_dir: Path, **kwargs: object) -> DownloadError:
    with pytest.raises(DownloadError) as failed:
        await fetch(url, dest_dir, **kwargs)  # type: ignore[arg-type]
    # A failed download never leaves a file behind.
    assert list(dest_dir.iterdir()) == []
    return failed.value


async def test_a_file_is_streamed_to_disk_with_its_hash_and_size(
    server: Server, samples: Samples, dest_dir: Path
) -> None:
    fetched = await fetch(f"{server.base}/video.mp4", dest_dir, declared="video")
    body = samples.mp4.read_bytes()
    assert Path(fetched.path).parent == dest_dir
    assert Path(fetched.path).read_bytes() == body
    assert fetched.size == len(body)
    assert fetched.sha256 == hashlib.sha256(body).hexdigest()
    assert fetched.final_url == f"{server.base}/video.mp4"
    assert fetched.content_type_header == "video/mp4"


async def test_a_404_fails_at_once_and_is_not_transient(server: Server, dest_dir: Path) -> None:
    error = await fetch_fails(f"{server.base}/status/404", dest_dir)
    assert (error.code, error.transient) == ("http_404", False)
    assert "404" in error.detail and error.url == f"{server.base}/status/404"
    assert server.hits["/status/404"] == 1


async def test_a_500_then_200_succeeds_on_retry(server: Server, dest_dir: Path) -> None:
    fetched = await fetch(f"{server.base}/flaky", dest_dir)
    assert fetched.size > 0
    assert server.hits["/flaky"] == 2


async def test_a_persistent_503_gives_up_after_the_retries_as_transient(
    server: Server, dest_dir: Path
) -> None:
    error = await fetch_fails(f"{server.base}/status/503", dest_dir)
    assert (error.code, error.transient) == ("http_503", True)
    assert server.hits["/status/503"] == FAST.retries + 1
    assert f"gave up after {FAST.retries + 1} attempts" in error.detail


async def test_a_429_with_a_short_retry_after_is_waited_out(server: Server, dest_dir: Path) -> None:
    await fetch(f"{server.base}/429/0", dest_dir)
    assert server.hits["/429/0"] == 2


async def test_a_429_with_a_long_retry_after_goes_back_to_the_caller_capped(
    server: Server, dest_dir: Path
) -> None:
    error = await fetch_fails(f"{server.base}/429/3600", dest_dir)
    # The remote asked for an hour; the caller is told to wait at most the cap.
    assert (error.code, error.transient, error.retry_after) == ("http_429", True, 1)
    assert server.hits["/429/3600"] == 1


async def test_a_connection_dropped_mid_body_is_retried(server: Server, dest_dir: Path) -> None:
    fetched = await fetch(f"{server.base}/reset", dest_dir)
    assert fetched.size > 1000
    assert server.hits["/reset"] == 2


async def test_a_server_gone_silent_past_the_read_timeout_times_out(
    server: Server, dest_dir: Path
) -> None:
    limits = msgspec.structs.replace(FAST, read_timeout=0.2, retries=1)
    error = await fetch_fails(f"{server.base}/drip?pause=1", dest_dir, limits=limits)
    assert (error.code, error.transient) == ("timeout", True)
    assert server.hits["/drip"] == 2


async def test_a_pause_shorter_than_the_read_timeout_is_fine(
    server: Server, dest_dir: Path
) -> None:
    limits = msgspec.structs.replace(FAST, read_timeout=1.0)
    fetched = await fetch(f"{server.base}/drip?pause=0.1", dest_dir, limits=limits)
    assert fetched.size == 203


async def test_a_trickle_that_never_ends_hits_the_total_timeout(
    server: Server, dest_dir: Path
) -> None:
    limits = msgspec.structs.replace(FAST, read_timeout=1.0, total_timeout=0.5)
    error = await fetch_fails(f"{server.base}/trickle", dest_dir, limits=limits)
    assert (error.code, error.transient) == ("timeout", True)
    assert "0.5 s" in error.detail


async def test_a_content_length_over_the_limit_fails_before_reading(
    server: Server, dest_dir: Path
) -> None:
    error = await fetch_fails(f"{server.base}/big-declared", dest_dir)
    assert (error.code, error.transient) == ("too_large", False)
    assert "Content-Length" in error.detail and f"{1024 * KB:,} bytes" in error.detail
    assert server.hits["/big-declared"] == 1


async def test_a_body_without_length_is_cut_off_past_the_limit(
    server: Server, dest_dir: Path
) -> None:
    error = await fetch_fails(f"{server.base}/big-stream", dest_dir)
    assert (error.code, error.transient) == ("too_large", False)
    assert f"{1024 * KB:,} bytes" in error.detail


async def test_the_size_limit_depends_on_the_declared_type(server: Server, dest_dir: Path) -> None:
    # 2 MiB is too large for an image here but fine for a video.
    fetched = await fetch(f"{server.base}/big-declared", dest_dir, declared="video")
    assert fetched.size == 2048 * KB


async def test_redirects_are_followed_up_to_the_limit(server: Server, dest_dir: Path) -> None:
    fetched = await fetch(f"{server.base}/chain/5", dest_dir)
    assert fetched.final_url == f"{server.base}/chain/0"
    fetched = await fetch(f"{server.base}/to-image", dest_dir)
    assert fetched.final_url == f"{server.base}/image.jpg"


async def test_one_redirect_too_many_fails(server: Server, dest_dir: Path) -> None:
    error = await fetch_fails(f"{server.base}/chain/6", dest_dir)
    assert (error.code, error.transient) == ("too_many_redirects", False)
    assert server.hits["/chain/0"] == 0


async def test_a_redirect_loop_is_detected(server: Server, dest_dir: Path) -> None:
    error = await fetch_fails(f"{server.base}/loop/a", dest_dir)
    assert (error.code, error.transient) == ("redirect_loop", False)
    assert server.hits["/loop/a"] == 1 and server.hits["/loop/b"] == 1


async def test_a_redirect_without_location_fails(server: Server, dest_dir: Path) -> None:
    error = await fetch_fails(f"{server.base}/no-location", dest_dir)
    assert error.code == "bad_redirect"


async def test_a_redirect_to_a_file_url_is_refused(server: Server, dest_dir: Path) -> None:
    error = await fetch_fails(f"{server.base}/to-file", dest_dir)
    assert isinstance(error, UrlRefused) and error.code == "unsupported_scheme"


async def test_a_public_host_is_fetched_with_the_guard_on(server: Server, dest_dir: Path) -> None:
    guard, _ = fake_public({"public.test": [["127.0.0.1"]]})
    fetched = await fetch(f"http://public.test:{server.port}/image.jpg", dest_dir, guard=guard)
    assert fetched.size > 0


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/to-loopback", "127.0.0.1: it is a loopback address"),
        ("/to-ipv6-loopback", "::1: it is a loopback address"),
        ("/to-internal-name", "internal.test: it resolves to a loopback address"),
    ],
)
async def test_a_redirect_to_loopback_is_refused_with_the_guard_on(
    server: Server, dest_dir: Path, path: str, refused: str
) -> None:
    guard, _ = fake_public({"public.test": [["127.0.0.1"]], "internal.test": [["::1"]]})
    error = await fetch_fails(f"http://public.test:{server.port}{path}", dest_dir, guard=guard)
    assert isinstance(error, UrlRefused)
    assert (error.code, error.transient) == ("ssrf_refused", False)
    assert refused in error.detail
    assert server.hits["/image.jpg"] == 0


async def test_a_name_that_rebinds_between_check_and_connect_is_refused_by_the_connector(
    server: Server, dest_dir: Path
) -> None:
    # The pre-flight lookup sees the trusted address, the connector's own lookup gets ::1:
    # the connection is refused by the session's resolver, never opened.
    guard, resolver = fake_public({"rebind.test": [["127.0.0.1"], ["::1"]]})
    error = await fetch_fails(f"http://rebind.test:{server.port}/image.jpg", dest_dir, guard=guard)
    assert isinstance(error, UrlRefused) and "resolves to a loopback address" in error.detail
    assert "::1" not in error.detail
    assert resolver.asked == ["rebind.test", "rebind.test"]
    assert server.hits["/image.jpg"] == 0


async def test_the_session_resolves_names_through_the_guard(server: Server) -> None:
    guard, _ = fake_public({"internal.test": [["::1"]]})
    async with make_session(guard, FAST) as session:
        with pytest.raises(UrlRefused, match=r"internal\.test: it resolves to a loopback"):
            await session.get(f"http://internal.test:{server.port}/image.jpg")
    assert server.hits["/image.jpg"] == 0


async def test_proxy_settings_from_the_environment_are_ignored(
    server: Server, dest_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would receive the request with a host the guard never saw; nothing listens on
    # port 9 of loopback, so using it would fail the download.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    fetched = await fetch(f"{server.base}/image.jpg", dest_dir)
    assert fetched.size > 0


async def test_a_refused_connection_is_transient(dest_dir: Path) -> None:
    # Find a loopback port with nothing listening on it.
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    limits = msgspec.structs.replace(FAST, retries=1)
    error = await fetch_fails(f"http://127.0.0.1:{port}/a.jpg", dest_dir, limits=limits)
    assert (error.code, error.transient) == ("connection_failed", True)
    assert "127.0.0.1" in error.detail


async def test_an_unknown_declared_type_is_a_programming_error(
    server: Server, dest_dir: Path
) -> None:
    with pytest.raises(ValueError, match="unknown asset type"):
        await fetch(f"{server.base}/image.jpg", dest_dir, declared="document")
    assert os.listdir(dest_dir) == []
