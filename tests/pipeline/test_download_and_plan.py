"""A job with asset URLs: downloaded, stored, planned into a storyboard — or failed, naming why."""

from __future__ import annotations

from adpipe.domain.job import JobState
from adpipe.events.asset import AssetStored
from adpipe.events.catalogue import Metadata, stream_id
from adpipe.events.job import (
    AssetDownloaded,
)
from adpipe.jobs import job_stream, load_job
from adpipe.services.downloader.service import Downloader
from adpipe.settings import Settings
from testkit.core import eventually
from testkit.jobs import create_job, url_asset, wait_for_status
from testkit.stack import RunningStack, running_stack


async def settled(stack: RunningStack, job_id: str) -> JobState:
    return await wait_for_status(
        stack, job_id, "storyboard_review", "failed", "cancelled", within=60
    )


async def test_assets_from_urls_are_stored_and_the_storyboard_uses_them(
    settings: Settings, media
) -> None:
    async with running_stack(settings, ["downloader", "planner"]) as stack:
        refs = [
            url_asset(f"{media.base}/product.jpg"),
            url_asset(f"{media.base}/clip.mp4", "video"),
        ]
        job_id = await create_job(stack, refs)
        state = await settled(stack, job_id)
        events = await stack.core.store.read_stream(job_stream(job_id))
        downloaded = [e.data for e in events if isinstance(e.data, AssetDownloaded)]
        clip = next(d for d in downloaded if d.url.endswith("clip.mp4"))
        assert await stack.core.blobs.read_bytes(clip.blob_id)  # the bytes are in the blob store
    assert state.status == "storyboard_review", state.error
    used = {a for scene in state.scenes for a in scene.assets}
    assert used == {r.asset_id for r in refs}
    assert abs(sum(s.duration for s in state.scenes) - 30) < 0.01
    assert state.planner == "builtin"
    assert {d.asset_id for d in downloaded} == {r.asset_id for r in refs}
    assert (clip.metadata.format, clip.metadata.width, clip.metadata.height) == ("mp4", 320, 240)
    assert abs((clip.metadata.duration or 0) - 2.0) < 0.1
    assert state.cost.storage > 0


async def test_a_missing_asset_fails_the_job_naming_its_url(settings: Settings, media) -> None:
    async with running_stack(settings, ["downloader", "planner"]) as stack:
        missing = url_asset(f"{media.base}/gone.jpg")
        job_id = await create_job(stack, [url_asset(f"{media.base}/product.jpg"), missing])
        state = await settled(stack, job_id)
    assert state.status == "failed"
    assert state.error is not None
    assert missing.url in state.error.message and "404" in state.error.message
    assert not state.scenes


async def test_html_served_as_an_image_fails_the_job_saying_what_it_is(
    settings: Settings, media
) -> None:
    async with running_stack(settings, ["downloader", "planner"]) as stack:
        page = url_asset(f"{media.base}/page.jpg")
        state = await settled(stack, await create_job(stack, [page]))
    assert state.status == "failed" and state.error is not None
    assert "HTML" in state.error.message and page.url in state.error.message


async def test_a_second_delivery_of_job_created_downloads_and_appends_nothing(
    settings: Settings, media
) -> None:
    async with running_stack(settings, ["downloader"]) as stack:
        refs = [url_asset(f"{media.base}/product.jpg"), url_asset(f"{media.base}/cta.jpg")]
        job_id = await create_job(stack, refs)

        async def downloaded() -> bool:
            return not (await load_job(stack.core.store, job_id)).awaiting_assets

        await eventually(downloaded, within=60)
        before = await stack.core.store.last_position()
        hits = dict(media.hits)
        from adpipe.services.downloader.engine import UrlGuard, make_session
        from adpipe.services.downloader.service import limits_from

        guard = UrlGuard(allow_private=True)
        async with make_session(guard, limits_from(settings)) as session:
            again = Downloader(stack.core, session, guard)
            await again.download_job(job_id, Metadata())
            for r in refs:  # also the per-asset path, as if the job had missed one
                await again.fetch_and_store(r.asset_id, r.url or "", "image", Metadata())
        assert await stack.core.store.last_position() == before
        assert media.hits == hits
        stored = [
            e
            for r in refs
            for e in await stack.core.store.read_stream(stream_id("asset", r.asset_id))
            if isinstance(e.data, AssetStored)
        ]
        assert len(stored) == 2
