"""Full URLs with credentials, kept beside the log instead of in it (table `url_secrets`).

The API records `redact_url(url)` in its events and, first, the full URL here under the asset's
(or webhook's) id; the downloader and the webhook sender read it back when they fetch or post. A
row exists only when there was something to redact, so a plain URL costs nothing. Asset rows go
once the asset is stored or has failed for good; webhook rows go with the webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from adpipe.net.redact import has_credentials

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Kind = Literal["asset", "webhook"]


async def remember(
    pool: AsyncConnectionPool[Any],
    kind: Kind,
    urls: Mapping[str, str],
    *,
    new_owners: bool = False,
) -> None:
    """Keeps each full URL (by owner id) that has credentials; forgets an older one for a URL
    that has none (a webhook whose new URL carries no token). With `new_owners` (ids just made
    up) there is no older one, so plain URLs cost no round trip."""
    if new_owners:
        urls = {owner_id: url for owner_id, url in urls.items() if has_credentials(url)}
    if not urls:
        return
    async with pool.connection() as conn, conn.transaction():
        for owner_id, url in urls.items():
            if has_credentials(url):
                await conn.execute(
                    "INSERT INTO url_secrets (kind, owner_id, url) VALUES (%s, %s, %s)"
                    " ON CONFLICT (kind, owner_id) DO UPDATE SET url = excluded.url",
                    [kind, owner_id, url],
                )
            else:
                await conn.execute(
                    "DELETE FROM url_secrets WHERE kind = %s AND owner_id = %s", [kind, owner_id]
                )


async def recall(pool: AsyncConnectionPool[Any], kind: Kind, owner_id: str, recorded: str) -> str:
    """The URL to use: the full one kept for `owner_id`, else the one the log recorded."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT url FROM url_secrets WHERE kind = %s AND owner_id = %s", [kind, owner_id]
        )
        row = await cur.fetchone()
    return str(row[0]) if row is not None else recorded


async def forget(pool: AsyncConnectionPool[Any], kind: Kind, owner_ids: Sequence[str]) -> None:
    if not owner_ids:
        return
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM url_secrets WHERE kind = %s AND owner_id = ANY(%s)",
            [kind, list(owner_ids)],
        )
