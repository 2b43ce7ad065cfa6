"""The read models: what they hold after a history, and that a rebuild from zero equals them."""

from __future__ import annotations

import json
import random
from typing import Any

from psycopg.rows import dict_row

from adpipe.context import Core
from adpipe.projections import ALL_PROJECTIONS, PROJECTION_NAMES
from adpipe.projections.jobs import decode_state
from adpipe.projector import Projector, projections_position

from .history import write_history


async def snapshot(core: Core) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    async with core.pool.connection() as conn:
        for projection in ALL_PROJECTIONS():
            for table in projection.tables:
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(f"SELECT * FROM {table}")
                rows = await cur.fetchall()
                tables[table] = sorted(rows, key=repr)
    return tables


async def test_a_rebuild_from_zero_equals_the_incremental_read_models(
    core: Core, rng: random.Random
) -> None:
    # Incremental: one event per batch, caught up several times while the history is written.
    incremental = Projector(core.store, core.pool, ALL_PROJECTIONS(), batch_size=1)
    for run in range(3):
        await write_history(core, rng, users=range(run, run + 1))
        for projection in incremental.projections:
            await incremental.catch_up(projection)
    before = await snapshot(core)
    assert before["jobs"] and before["job_scenes"] and before["assets"]

    rebuilt = Projector(core.store, core.pool, ALL_PROJECTIONS(), batch_size=500)
    for projection in rebuilt.projections:
        await rebuilt.rebuild(projection)
    assert await snapshot(core) == before
    last = await core.store.last_position()
    assert await projections_position(core.pool, PROJECTION_NAMES) == last


async def test_the_read_models_hold_what_the_history_says(core: Core, rng: random.Random) -> None:
    await write_history(core, rng, users=range(2))
    projector = Projector(core.store, core.pool, ALL_PROJECTIONS())
    for projection in projector.projections:
        await projector.catch_up(projection)
    tables = await snapshot(core)
    clients = {r["id"]: r for r in tables["clients"]}
    assert set(clients) == {"client-0", "client-1"}  # the deleted ones are gone
    assert clients["client-0"]["name"] == "B" and clients["client-0"]["brand_colors"] == ["#000000"]
    assert {r["budget"] for r in tables["campaigns"]} == {10.0}

    assets = {r["id"]: r for r in tables["assets"]}
    assert "asset-0-2" not in assets
    assert assets["asset-0-0"]["status"] == "ready" and assets["asset-0-0"]["width"] == 64
    assert assets["asset-0-1"]["status"] == "failed"
    assert assets["asset-0-1"]["error_code"] == "http_404"
    downloaded = assets["job-0-0-download"]
    assert downloaded["status"] == "ready" and downloaded["job_id"] == "job-0-0"

    jobs = {r["id"]: r for r in tables["jobs"]}
    assert [jobs[f"job-0-{j}"]["status"] for j in range(4)] == [
        "storyboard_review",
        "cancelled",
        "failed",
        "completed",
    ]
    done = jobs["job-0-3"]
    assert done["progress"] == 100 and done["video_seconds"] == 21
    assert done["cost_rendering"] == 0.84 and done["cost_storage"] == 0.002
    assert sorted(done["asset_ids"]) == ["asset-0-0", "job-0-3-download"]
    state = decode_state(json.dumps(done["state"]))
    assert state.status == "completed" and state.version == done["version"]

    scenes = [r for r in tables["job_scenes"] if r["job_id"] == "job-0-0"]
    assert [s["scene_number"] for s in sorted(scenes, key=lambda s: s["scene_number"])] == [
        1,
        2,
        3,
        4,
    ]
    assert all(s["description"].endswith(" v2") for s in scenes)
    assert all(s["metadata"]["origin"] == "regenerate_all" for s in scenes)
    assert all(s["metadata"]["feedback"] == "calmer" for s in scenes)
