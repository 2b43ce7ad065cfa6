"""The downloader service with bombs and crashing decoders behind asset URLs (on 127.0.0.1): the
job or the asset fails with the reason, within seconds, and a crash costs two tries, not five."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
import pytest
from aiohttp import web

from adpipe.events.asset import AssetFailed, AssetRegistered
from adpipe.events.catalogue import Metadata, stream_id
from adpipe.media import MediaInspector, MediaLimits
from adpipe.sandbox import ChildLimits, FunctionRef
from adpipe.services.downloader.engine import UrlGuard, make_session
from adpipe.services.downloader.service import NAME, Downloader, fail_when_exhausted, limits_from
from adpipe.settings import Settings
from adpipe.worker import Retry, ServiceRunner, service_spec
from testkit.core import eventually
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.loopback import serve_app
from testkit.stack import RunningStack, loopback_settings, running_stack

if TYPE_CHECKING:
    from testkit.samples import Samples


@pytest.fixture
def settings(database_url: str, nats_url: str) -> Settings:
    return loopback_settings(
        database_url,
        nats_url,
        download_retries=0,
        ack_wait_seconds=10.0,
    )


@dataclass
class Remote:
    base: str
    hits: dict[str, int] = field(default_factory=dict)


@pytest.fixture
async def remote(samples: Samples) -> AsyncIterator[Remote]:
    files = {
        "/bomb.png": (samples.png_bomb_full, "image/png"),
        "/bomb.mov": (samples.mov_bomb, "video/quicktime"),
        "/clip.mp4": (samples.mp4, "video/mp4"),
    }
    server = Remote(base="")

    async def serve(request: web.Request) -> web.Response:
        server.hits[request.path] = server.hits.get(request.path, 0) + 1
        path, content_type = files[request.path]
        return web.Response(body=path.read_bytes(), content_type=content_type)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    async with serve_app(app, shutdown_timeout=0.5) as server.base:
        yield server


async def test_a_job_whose_asset_urls_are_bombs_fails_naming_the_url_and_the_limit(
    settings: Settings, remote: Remote
) -> None:
    async with running_stack(settings, ["downloader"]) as stack:
        bomb = url_asset(f"{remote.base}/bomb.mov", "video")
        job_id = await create_job(stack, [bomb])
        state = await wait_for_status(stack, job_id, "failed", "storyboard_review", within=60)
    assert state.status == "failed" and state.error is not None
    assert state.error.code == "asset_invalid_content"
    assert bomb.url in state.error.message  # type: ignore[operator]
    assert "15360x15360 pixels (236 MP), over the limit of 36 MP" in state.error.message


async def test_a_bomb_registered_by_url_alone_fails_its_asset_with_the_reason(
    settings: Settings, remote: Remote
) -> None:
    async with running_stack(settings, ["downloader"]) as stack:
        asset_id = str(uuid.uuid4())
        stream = stream_id("asset", asset_id)
        registered = AssetRegistered(
            asset_id=asset_id,
            user_id="u1",
            name="bomb.png",
            asset_type="image",
            source_url=f"{remote.base}/bomb.png",
        )
        await stack.core.store.append(stream, [registered], 0)

        async def failed() -> bool:
            events = await stack.core.store.read_stream(stream)
            return any(isinstance(e.data, AssetFailed) for e in events)

        await eventually(failed, within=60)
        events = await stack.core.store.read_stream(stream)
    failure = next(e.data for e in events if isinstance(e.data, AssetFailed))
    assert failure.code == "invalid_content"
    assert "20000x20000 pixels (400 MP), over the limit of 100 MP" in failure.message


@contextlib.asynccontextmanager
async def downloader_with(stack: RunningStack, inspector: MediaInspector) -> AsyncIterator[None]:
    """The downloader service as `run` wires it, but looking at files through `inspector`."""
    settings = stack.core.settings
    guard = UrlGuard(allow_private=True)
    async with make_session(guard, limits_from(settings)) as session:
        downloader = Downloader(stack.core, session, guard, inspector)
        spec = service_spec(
            stack.core.store,
            settings,
            name=NAME,
            subjects=["adpipe.job.created", "adpipe.asset.registered"],
            handle=downloader.handle,
            stage="download",
        )
        spec.on_exhausted = fail_when_exhausted(stack.core)
        stop = asyncio.Event()
        task = asyncio.create_task(ServiceRunner(spec, stack.nc.jetstream()).run(stop))
        try:
            yield
        finally:
            stop.set()
            await task


async def test_a_file_that_crashes_the_decoder_fails_the_job_after_two_crashes(
    settings: Settings, remote: Remote
) -> None:
    crashing = MediaInspector(
        MediaLimits(),
        ChildLimits(),
        concurrency=1,
        work=FunctionRef("testkit.sandbox_targets", "segfault_decoding"),
    )
    async with running_stack(settings) as stack, downloader_with(stack, crashing):
        clip = url_asset(f"{remote.base}/clip.mp4", "video")
        job_id = await create_job(stack, [clip])
        state = await wait_for_status(stack, job_id, "failed", "storyboard_review", within=60)
    assert state.status == "failed" and state.error is not None
    assert state.error.code == "crashed"
    crash = f"{clip.url}: decoding the file was killed by SIGSEGV"
    assert state.error.message == (
        "the downloader process crashed twice while handling this job:"
        f" attempt 1: {crash}; attempt 2: {crash}"
    )
    assert remote.hits["/clip.mp4"] == 2, "settings.max_deliver is 5; the crash bound is 2"


async def test_a_huge_retry_after_defers_the_next_attempt_by_at_most_the_cap(
    settings: Settings,
) -> None:
    hits: list[str] = []

    async def unavailable(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=503, headers={"Retry-After": "100000"})

    app = web.Application()
    app.router.add_get("/{name}", unavailable)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    capped = msgspec.structs.replace(settings, download_max_retry_after_seconds=7.0)
    try:
        async with running_stack(capped, relay=False, projector=False) as stack:
            guard = UrlGuard(allow_private=True)
            async with make_session(guard, limits_from(capped)) as session:
                downloader = Downloader(stack.core, session, guard)
                registered = AssetRegistered(
                    asset_id=str(uuid.uuid4()),
                    user_id="u1",
                    name="busy.png",
                    asset_type="image",
                    source_url=f"http://127.0.0.1:{port}/busy.png",
                )
                with pytest.raises(Retry) as caught:
                    await downloader.download_standalone(registered, Metadata())
    finally:
        await runner.cleanup()
    assert hits == ["/busy.png"]  # not waited out in place either
    # The message is naked with this delay (ServiceRunner._retry): the remote's 100000 s is cut.
    assert caught.value.delay == 7.0
    assert "503" in caught.value.detail
