"""Queries on the read models. Every one is scoped to a user: another user's rows do not exist."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from adpipe.domain.job import TERMINAL
from adpipe.domain.resource import missing

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Row = dict[str, Any]
_TERMINAL = sorted(TERMINAL)


def found(row: Row | None, kind: str, entity_id: str) -> Row:
    """The row of the user's own resource, or the NotFound any other answers."""
    if row is None:
        raise missing(kind, entity_id)
    return row


async def _all(pool: AsyncConnectionPool[Any], query: str, params: Sequence[Any]) -> list[Row]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query, params)
        rows: list[Row] = await cur.fetchall()
        return rows


async def _one(pool: AsyncConnectionPool[Any], query: str, params: Sequence[Any]) -> Row | None:
    rows = await _all(pool, query, params)
    return rows[0] if rows else None


async def _page(
    pool: AsyncConnectionPool[Any],
    table: str,
    where: list[str],
    params: list[Any],
    page: int,
    page_size: int,
    columns: str = "*",
    column_params: Sequence[Any] = (),
) -> tuple[list[Row], int]:
    """One page, newest first, and the total over every page."""
    condition = " AND ".join(where)
    rows = await _all(
        pool,
        f"SELECT {columns}, count(*) OVER () AS total_count FROM {table} WHERE {condition}"
        " ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
        [*column_params, *params, page_size, (page - 1) * page_size],
    )
    if rows:
        return rows, int(rows[0]["total_count"])
    # Past the last page the window has no row to count on; count separately.
    count = await _one(pool, f"SELECT count(*) AS n FROM {table} WHERE {condition}", params)
    return [], int(count["n"]) if count else 0


# ---- clients and campaigns -------------------------------------------------------------------


async def client(pool: AsyncConnectionPool[Any], user: str, client_id: str) -> Row | None:
    return await _one(
        pool, "SELECT * FROM clients WHERE id = %s AND user_id = %s", [client_id, user]
    )


async def clients(
    pool: AsyncConnectionPool[Any], user: str, page: int, page_size: int
) -> tuple[list[Row], int]:
    return await _page(pool, "clients", ["user_id = %s"], [user], page, page_size)


async def campaign(pool: AsyncConnectionPool[Any], user: str, campaign_id: str) -> Row | None:
    return await _one(
        pool, "SELECT * FROM campaigns WHERE id = %s AND user_id = %s", [campaign_id, user]
    )


async def campaigns(
    pool: AsyncConnectionPool[Any], user: str, client_id: str | None, page: int, page_size: int
) -> tuple[list[Row], int]:
    where, params = _owned_by(user, client_id=client_id)
    return await _page(pool, "campaigns", where, params, page, page_size)


async def client_dependents(
    pool: AsyncConnectionPool[Any], user: str, client_id: str
) -> tuple[int, int]:
    """(live campaigns, unfinished jobs) of a client: what stops it being deleted."""
    row = await _one(
        pool,
        "SELECT (SELECT count(*) FROM campaigns WHERE user_id = %s AND client_id = %s) AS c,"
        " (SELECT count(*) FROM jobs WHERE user_id = %s AND client_id = %s"
        "  AND NOT status = ANY(%s)) AS j",
        [user, client_id, user, client_id, _TERMINAL],
    )
    assert row is not None
    return int(row["c"]), int(row["j"])


async def campaign_active_jobs(pool: AsyncConnectionPool[Any], user: str, campaign_id: str) -> int:
    row = await _one(
        pool,
        "SELECT count(*) AS n FROM jobs WHERE user_id = %s AND campaign_id = %s"
        " AND NOT status = ANY(%s)",
        [user, campaign_id, _TERMINAL],
    )
    return int(row["n"]) if row else 0


async def stats(
    pool: AsyncConnectionPool[Any], user: str, column: str, value: str
) -> tuple[list[Row], int]:
    """Jobs grouped by status (count, seconds rendered, cost) and the asset count, of a client
    (`column` = "client_id") or a campaign ("campaign_id")."""
    assert column in ("client_id", "campaign_id")
    rows = await _all(
        pool,
        "SELECT status, count(*) AS jobs, coalesce(sum(video_seconds), 0) AS seconds,"
        f" coalesce(sum(cost_total), 0) AS cost FROM jobs WHERE user_id = %s AND {column} = %s"
        " GROUP BY status",
        [user, value],
    )
    assets_row = await _one(
        pool,
        f"SELECT count(*) AS n FROM assets WHERE user_id = %s AND {column} = %s",
        [user, value],
    )
    return rows, int(assets_row["n"]) if assets_row else 0


# ---- assets ----------------------------------------------------------------------------------


async def asset(pool: AsyncConnectionPool[Any], user: str, asset_id: str) -> Row | None:
    return await _one(pool, "SELECT * FROM assets WHERE id = %s AND user_id = %s", [asset_id, user])


async def assets_by_id(
    pool: AsyncConnectionPool[Any], user: str, asset_ids: Sequence[str]
) -> dict[str, Row]:
    if not asset_ids:
        return {}
    rows = await _all(
        pool,
        "SELECT * FROM assets WHERE user_id = %s AND id = ANY(%s)",
        [user, list(asset_ids)],
    )
    return {r["id"]: r for r in rows}


def _owned_by(user: str, **equal: str | None) -> tuple[list[str], list[Any]]:
    """WHERE terms and parameters: the user's rows, narrowed by each column filter given."""
    where, params = ["user_id = %s"], [user]
    for column, value in equal.items():
        if value is not None:
            where.append(f"{column} = %s")  # column names come from code, never from input
            params.append(value)
    return where, params


async def assets(
    pool: AsyncConnectionPool[Any],
    user: str,
    *,
    asset_type: str | None,
    client_id: str | None,
    campaign_id: str | None,
    tag: str | None,
    page: int,
    page_size: int,
) -> tuple[list[Row], int]:
    where, params = _owned_by(user, type=asset_type, client_id=client_id, campaign_id=campaign_id)
    if tag is not None:
        where.append("tags @> ARRAY[%s]::text[]")
        params.append(tag)
    return await _page(pool, "assets", where, params, page, page_size)


async def jobs_using_asset(pool: AsyncConnectionPool[Any], user: str, asset_id: str) -> list[str]:
    """Unfinished jobs whose creative uses the asset."""
    rows = await _all(
        pool,
        "SELECT id FROM jobs WHERE user_id = %s AND asset_ids @> ARRAY[%s]::text[]"
        " AND NOT status = ANY(%s) ORDER BY created_at",
        [user, asset_id, _TERMINAL],
    )
    return [r["id"] for r in rows]


# ---- jobs and scenes -------------------------------------------------------------------------

_JOB_COLUMNS = "id, status, pending, state::text AS state, created_at, updated_at"


async def job(pool: AsyncConnectionPool[Any], user: str, job_id: str) -> Row | None:
    return await _one(
        pool, f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = %s AND user_id = %s", [job_id, user]
    )


# The job document as served: the stored view (see projections/jobs.py), the API's currency,
# and the stored views of the assets its creative uses, in the creative's order (those deleted
# since are left out). Postgres assembles it; the API passes the text on without decoding it.
DOCUMENT = (
    "jsonb_set(t.view, '{cost,currency}', to_jsonb(%s::text))"
    " || jsonb_build_object('assets', coalesce((SELECT jsonb_agg(a.view ORDER BY c.n)"
    " FROM jsonb_array_elements(t.view #> '{creative,assets}') WITH ORDINALITY AS c(ref, n)"
    " JOIN assets a ON a.id = c.ref ->> 'id' AND a.user_id = t.user_id), '[]'::jsonb))"
)


async def job_documents(
    pool: AsyncConnectionPool[Any],
    user: str,
    currency: str,
    *,
    status: str | None,
    client_id: str | None,
    campaign_id: str | None,
    page: int,
    page_size: int,
) -> tuple[list[Row], int]:
    """A page of the user's jobs (`id`, `status`, and `document`: JSON text), newest first, and
    the total."""
    where, params = _owned_by(user, status=status, client_id=client_id, campaign_id=campaign_id)
    rows, total = await _page(
        pool,
        "jobs t",
        [f"t.{w}" for w in where],
        params,
        page,
        page_size,
        columns=f"t.id, t.status, ({DOCUMENT})::text AS document",
        column_params=[currency],
    )
    return rows, total


_MAX_SCENES = 10_000


async def scene(
    pool: AsyncConnectionPool[Any], user: str, job_id: str, number: int
) -> tuple[bool, str | None]:
    """(the job is the user's, its scene `number` (from 1) as served or None)."""
    # jsonb counts negative indexes from the end: a number below 1 names no scene (nor does
    # one past any storyboard, which would not fit the integer index).
    index = number - 1 if 1 <= number <= _MAX_SCENES else None
    row = await _one(
        pool,
        "SELECT (view -> 'scenes' -> %s::integer)::text AS scene FROM jobs"
        " WHERE id = %s AND user_id = %s",
        [index, job_id, user],
    )
    return (row is not None, row["scene"] if row else None)
