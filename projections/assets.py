"""The `assets` read model: an asset's metadata and status (pending, ready, failed).

Both the asset's own `asset.stored` and a job's `job.asset_downloaded` mark it ready, so the row
is right whichever of the two the downloader records first. Each change also rewrites `view`,
the asset as the API serves it (alone, and inside the documents of the jobs that use it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from psycopg.rows import dict_row

from adpipe.api.views import STORED_VIEWS_REVISION, AssetView, asset_view, encoded
from adpipe.events.asset import (
    AssetDeleted,
    AssetFailed,
    AssetMetadata,
    AssetRegistered,
    AssetStored,
)
from adpipe.events.job import AssetDownloaded
from adpipe.projector import Projection, shape_version

if TYPE_CHECKING:
    from datetime import datetime

    from psycopg import AsyncConnection, AsyncCursor

    from adpipe.events.catalogue import Envelope


class AssetsProjection(Projection):
    name = "assets"
    tables = ("assets",)
    handles = frozenset(
        {
            "asset.registered",
            "asset.stored",
            "asset.failed",
            "asset.deleted",
            "job.asset_downloaded",
        }
    )
    version = shape_version(STORED_VIEWS_REVISION, AssetView)

    async def apply(self, conn: AsyncConnection[Any], envelope: Envelope) -> None:
        event = envelope.data
        at = envelope.recorded_at
        cur = conn.cursor(row_factory=dict_row)
        match event:
            case AssetRegistered():
                await cur.execute(
                    "INSERT INTO assets (id, user_id, client_id, campaign_id, job_id, name, type,"
                    " status, source_url, tags, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING RETURNING *",
                    [
                        event.asset_id,
                        event.user_id,
                        event.client_id,
                        event.campaign_id,
                        event.job_id,
                        event.name,
                        event.asset_type,
                        event.source_url,
                        list(event.tags),
                        at,
                        at,
                    ],
                )
            case AssetStored():
                await _store(
                    cur,
                    envelope.entity_id,
                    event.blob_id,
                    event.metadata,
                    at,
                    thumbnail=event.thumbnail_blob_id,
                    cost=event.cost,
                )
            case AssetDownloaded():
                # The job's record of the same download; never overrides the asset's own.
                await _store(
                    cur, event.asset_id, event.blob_id, event.metadata, at, only_pending=True
                )
            case AssetFailed():
                await cur.execute(
                    "UPDATE assets SET status = 'failed', error_code = %s, error_message = %s,"
                    " updated_at = %s WHERE id = %s AND status = 'pending' RETURNING *",
                    [event.code, event.message, at, envelope.entity_id],
                )
            case AssetDeleted():
                await conn.execute("DELETE FROM assets WHERE id = %s", [envelope.entity_id])
                return
        # The row as it now is (when the statement changed it): its view follows. (Fetched, not
        # tested by `cur.description`: in a rebuild's pipeline that is unknown until a sync.)
        if (row := await cur.fetchone()) is not None:
            await conn.execute(
                "UPDATE assets SET view = %s::jsonb WHERE id = %s",
                [encoded(asset_view(row)), row["id"]],
            )


async def _store(
    cur: AsyncCursor[Any],
    asset_id: str,
    blob_id: str,
    meta: AssetMetadata,
    at: datetime,
    *,
    thumbnail: str | None = None,
    cost: float | None = None,
    only_pending: bool = False,
) -> None:
    only = " AND status = 'pending'" if only_pending else ""
    await cur.execute(
        "UPDATE assets SET status = 'ready', blob_id = %s,"
        " thumbnail_blob_id = coalesce(%s, thumbnail_blob_id), format = %s, content_type = %s,"
        " size = %s, width = %s, height = %s, duration = %s, metadata = %s::jsonb,"
        " cost = coalesce(%s, cost), error_code = NULL, error_message = NULL, updated_at = %s"
        " WHERE id = %s" + only + " RETURNING *",
        [
            blob_id,
            thumbnail,
            meta.format,
            meta.content_type,
            meta.size,
            meta.width,
            meta.height,
            meta.duration,
            msgspec.json.encode(meta).decode(),
            cost,
            at,
            asset_id,
        ],
    )
