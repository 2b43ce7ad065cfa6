"""The downloader service: consume `job.created` (and URL assets from `POST /assets`), fetch every
asset URL through the engine, store it as a blob, and append `asset.stored` +
`job.asset_downloaded` — or fail the job naming the URL and the cause.

The URL fetched is the full one the API kept in `url_secrets` (with its `user:pass@` or signed
query); the events hold it redacted, and every message written here names the URL redacted too.
Once an asset is stored or has failed for good, its kept URL is deleted.

Idempotent: an asset whose stream already says `asset.stored` is not fetched again, and the job
aggregate ignores a second `job.asset_downloaded` for the same asset. Files are judged by
`adpipe.media` in a bounded child process: a file that kills the decoder counts as a crash of this
service's work (failed after `max_crashes`), never as a crash of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from adpipe.domain.job import Fail, RecordAssetDownloaded
from adpipe.errors import InvalidTransition, StreamVersionConflict
from adpipe.events.asset import AssetFailed, AssetRegistered, AssetStored
from adpipe.events.catalogue import Envelope, Metadata, stream_id
from adpipe.events.job import AssetDownloaded, JobAssetRef, JobCreated
from adpipe.fairness import FairShares
from adpipe.jobs import execute, load_job
from adpipe.media import DecoderCrashed, MediaInspector
from adpipe.net.redact import redact_text, redact_url
from adpipe.pricing import storage_cost
from adpipe.storage import url_secrets
from adpipe.worker import (
    Crashed,
    Delivery,
    ExhaustedHook,
    Permanent,
    Retry,
    ServiceRunner,
    fail_job_when_exhausted,
    service_spec,
)

from .engine import (
    AssetType,
    DownloadError,
    DownloadLimits,
    UrlGuard,
    download_asset,
    make_session,
)

if TYPE_CHECKING:
    import aiohttp
    from nats.aio.client import Client as NATS

    from adpipe.context import Core
    from adpipe.settings import Settings

NAME = "downloader"


def limits_from(settings: Settings) -> DownloadLimits:
    return DownloadLimits(
        connect_timeout=settings.download_connect_timeout,
        read_timeout=settings.download_read_timeout,
        max_redirects=settings.download_max_redirects,
        max_bytes=dict(settings.download_max_bytes),
        retries=settings.download_retries,
        max_retry_after=settings.download_max_retry_after_seconds,
    )


class AssetFailure(Exception):
    def __init__(self, ref: JobAssetRef, error: DownloadError) -> None:
        super().__init__(error.detail)
        self.ref = ref
        self.error = error


class Downloader:
    def __init__(
        self,
        core: Core,
        session: aiohttp.ClientSession,
        guard: UrlGuard,
        inspector: MediaInspector | None = None,
    ) -> None:
        self.core = core
        self.session = session
        self.guard = guard
        self.limits = limits_from(core.settings)
        self.inspector = inspector or MediaInspector.from_settings(core.settings)
        self.scratch = Path(tempfile.gettempdir())
        # Per-user caps rather than round-robin claiming: JetStream hands messages out in order
        # and a download holds its slot for as long as the remote drips (up to 600 s), so fair
        # order alone would still let one user fill every slot. A cap below the runner's
        # concurrency keeps a slot free for other users; excess messages are deferred.
        settings = core.settings
        self.shares = FairShares(
            FairShares.cap_for(settings.download_jobs_per_user, settings.service_concurrency),
            settings.fair_share_retry_seconds,
        )

    async def handle(self, delivery: Delivery) -> None:
        event = delivery.envelope.data
        meta = delivery.caused_metadata(NAME)
        if isinstance(event, JobCreated):
            with self.shares.share(event.user_id):
                await self.download_job(event.job_id, meta)
        elif isinstance(event, AssetRegistered) and event.source_url and event.job_id is None:
            with self.shares.share(event.user_id):
                await self.download_standalone(event, meta)

    async def download_job(self, job_id: str, meta: Metadata) -> None:
        state = await load_job(self.core.store, job_id)
        if state.creative is None:
            return
        if state.status != "pending" or not state.awaiting_assets:
            # Nothing to fetch, or the job ended meanwhile: no URL of it is needed any more.
            await self.forget_urls(state.creative.assets)
            return
        refs = [a for a in state.creative.assets if a.asset_id in state.awaiting_assets]
        slots = asyncio.Semaphore(self.core.settings.download_concurrency)

        async def one(ref: JobAssetRef) -> None:
            async with slots:
                stored = await self.fetch_and_store(ref.asset_id, ref.url or "", ref.type, meta)
            downloaded = AssetDownloaded(
                asset_id=ref.asset_id,
                url=redact_url(ref.url or ""),
                blob_id=stored.blob_id,
                metadata=stored.metadata,
                cost=stored.cost,
            )
            await execute(self.core.store, job_id, RecordAssetDownloaded(event=downloaded), meta)

        try:
            async with asyncio.TaskGroup() as group:
                for ref in refs:
                    group.create_task(self._guarded(one, ref))
        except* DecoderCrashed as crashes:
            # Not the file's fault alone, perhaps (the OOM killer on a busy machine): counted as
            # a crash of this work, retried up to max_crashes, then the job fails saying so.
            raise Crashed(str(crashes.exceptions[0])) from None
        except* AssetFailure as failures:
            first = failures.exceptions[0]
            assert isinstance(first, AssetFailure)
            if first.error.transient:
                raise Retry(first.error.detail, delay=first.error.retry_after) from None
            # Never plan an ad silently without an asset the user asked for.
            message = f"asset {redact_url(first.ref.url or '')} could not be used: "
            with contextlib.suppress(InvalidTransition):
                await execute(
                    self.core.store,
                    job_id,
                    Fail(
                        code=f"asset_{first.error.code}",
                        message=redact_text(message + first.error.detail),
                        stage="download",
                    ),
                    meta,
                )
            await self.forget_urls(state.creative.assets)

    @staticmethod
    async def _guarded(work: object, ref: JobAssetRef) -> None:
        try:
            await work(ref)  # type: ignore[operator]
        except DownloadError as exc:
            raise AssetFailure(ref, exc) from exc

    async def download_standalone(self, event: AssetRegistered, meta: Metadata) -> None:
        try:
            await self.fetch_and_store(
                event.asset_id, event.source_url or "", event.asset_type, meta
            )
        except DecoderCrashed as exc:
            raise Crashed(exc.detail) from exc
        except DownloadError as exc:
            if exc.transient:
                raise Retry(exc.detail, delay=exc.retry_after) from exc
            raise Permanent(exc.detail, code=f"asset_{exc.code}") from exc

    async def forget_urls(self, assets: list[JobAssetRef]) -> None:
        """Deletes the kept full URLs of a job's URL assets (the job no longer needs them)."""
        await url_secrets.forget(
            self.core.pool, "asset", [a.asset_id for a in assets if a.url is not None]
        )

    async def fetch_and_store(
        self, asset_id: str, url: str, asset_type: AssetType, meta: Metadata
    ) -> AssetStored:
        """The asset's stored event: fetched now, or found already stored by an earlier try.

        `url` is the one the log recorded (redacted); the one fetched is the full URL kept for the
        asset, if any."""
        stream = stream_id("asset", asset_id)
        history = await self.core.store.read_stream(stream)
        for envelope in history:
            if isinstance(envelope.data, AssetStored):
                return envelope.data
        if any(isinstance(e.data, AssetFailed) for e in history):
            raise DownloadError(f"{redact_url(url)} failed earlier", code="failed_earlier")
        full_url = await url_secrets.recall(self.core.pool, "asset", asset_id, url)
        try:
            asset = await download_asset(
                self.session,
                full_url,
                asset_type,
                self.scratch,
                self.limits,
                self.guard,
                self.inspector,
            )
        except DownloadError as exc:
            if not exc.transient:
                failed = AssetFailed(code=exc.code, message=redact_text(exc.detail))
                await self.core.store.append(stream, [failed], len(history), meta)
                await url_secrets.forget(self.core.pool, "asset", [asset_id])
            raise
        try:
            blob = await self.core.blobs.put_file(asset.file.path, asset.metadata.content_type)
            thumb = None
            if asset.thumbnail is not None:
                thumb = (await self.core.blobs.put_bytes(asset.thumbnail, "image/jpeg")).id
        finally:
            Path(asset.file.path).unlink(missing_ok=True)
        stored = AssetStored(
            blob_id=blob.id,
            metadata=asset.metadata,
            thumbnail_blob_id=thumb,
            cost=storage_cost(blob.size_bytes, self.core.settings.prices),
        )
        await self.core.store.append(stream, [stored], len(history), meta)
        # Stored for good: the credentials that fetched it are not needed again.
        await url_secrets.forget(self.core.pool, "asset", [asset_id])
        return stored


def fail_when_exhausted(core: Core) -> ExhaustedHook:
    """A job's download failing for good fails the job; an asset registered on its own (by URL,
    outside a job) gets `asset.failed` with the reason instead of staying pending."""
    fail_job = fail_job_when_exhausted(core.store, "download")

    async def hook(envelope: Envelope, code: str, reason: str) -> None:
        event = envelope.data
        reason = redact_text(reason)
        if not isinstance(event, AssetRegistered) or event.job_id is not None:
            await fail_job(envelope, code, reason)
            if isinstance(event, JobCreated):
                # The job failed for good: none of its URLs will be fetched again.
                urls = [a.asset_id for a in event.creative.assets if a.url is not None]
                await url_secrets.forget(core.pool, "asset", urls)
            return
        history = await core.store.read_stream(envelope.stream)
        if not any(isinstance(e.data, AssetStored | AssetFailed) for e in history):
            with contextlib.suppress(StreamVersionConflict):  # settled meanwhile by another try
                await core.store.append(
                    envelope.stream, [AssetFailed(code=code, message=reason)], len(history)
                )
        await url_secrets.forget(core.pool, "asset", [event.asset_id])

    return hook


async def run(core: Core, nc: NATS, stop: asyncio.Event) -> None:
    settings = core.settings
    guard = UrlGuard(allow_private=settings.allow_private_urls)
    async with make_session(guard, limits_from(settings)) as session:
        downloader = Downloader(core, session, guard)
        spec = service_spec(
            core.store,
            settings,
            name=NAME,
            subjects=["adpipe.job.created", "adpipe.asset.registered"],
            handle=downloader.handle,
            stage="download",
        )
        spec.on_exhausted = fail_when_exhausted(core)
        await ServiceRunner(spec, nc.jetstream()).run(stop)
