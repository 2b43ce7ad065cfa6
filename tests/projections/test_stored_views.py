"""Stored views: the documents the API serves are written by the projections, versioned by their
shapes, and a projection whose rows another version built is rebuilt from the log."""

from __future__ import annotations

import json
import random

import msgspec

from adpipe.api.views import AssetView, JobView
from adpipe.context import Core
from adpipe.projections import ALL_PROJECTIONS
from adpipe.projections.jobs import decode_state
from adpipe.projector import Projector, shape_version

from .history import write_history
from .test_read_models import snapshot


async def test_each_job_and_asset_row_holds_the_view_the_api_serves(
    core: Core, rng: random.Random
) -> None:
    await write_history(core, rng, users=range(1))
    projector = Projector(core.store, core.pool, ALL_PROJECTIONS())
    for projection in projector.projections:
        await projector.catch_up(projection)
    tables = await snapshot(core)
    for row in tables["jobs"]:
        view = msgspec.convert(row["view"], JobView)  # camelCase, every field of a JobView
        state = decode_state(json.dumps(row["state"]))
        assert view.id == row["id"] and view.status == state.status == row["status"]
        assert [s.scene_number for s in view.scenes] == [s.scene_number for s in state.scenes]
        assert "adBasics" in row["view"] and "ad_basics" not in row["view"]
        assert view.created_at == row["created_at"] and view.updated_at == row["updated_at"]
    for row in tables["assets"]:
        view = msgspec.convert(row["view"], AssetView)
        assert (view.id, view.status, view.width) == (row["id"], row["status"], row["width"])


async def test_a_projection_built_by_another_version_is_rebuilt_before_it_goes_on(
    core: Core, rng: random.Random
) -> None:
    await write_history(core, rng, users=range(1))
    projector = Projector(core.store, core.pool, ALL_PROJECTIONS())
    for projection in projector.projections:
        await projector.catch_up(projection)
        assert not await projector.ensure_current(projection)  # built by this version
    before = await snapshot(core)
    # Rows as an older version left them: another shape of state and no view yet.
    async with core.pool.connection() as conn:
        await conn.execute("UPDATE jobs SET state = '{\"renamed\": 1}'::jsonb, view = NULL")
        await conn.execute("UPDATE assets SET view = NULL")
        await conn.execute(
            "UPDATE checkpoints SET version = 'older' WHERE name IN (%s, %s)",
            ["projection:jobs", "projection:assets"],
        )
    rebuilt = {p.name: await projector.ensure_current(p) for p in projector.projections}
    assert rebuilt == {
        "clients": False,
        "campaigns": False,
        "assets": True,
        "jobs": True,
        "webhooks": False,
    }
    after = await snapshot(core)
    for table, rows in before.items():
        for old, new in zip(rows, after[table], strict=True):
            assert {k: v for k, v in new.items() if old.get(k) != v} == {}, (table, old)
    assert after == before
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT name, version FROM checkpoints WHERE name LIKE 'projection:%%'"
        )
        versions = dict(await cur.fetchall())
    for projection in projector.projections:
        assert versions[projection.checkpoint_name()] == projection.version
        assert not await projector.ensure_current(projection)


def _shape(doc: str, field: str = "pending", kind: type = str) -> type:
    """A struct named Shape, as one stored struct would read in two versions of the code."""
    return msgspec.defstruct("Shape", [(field, kind | None, None)], namespace={"__doc__": doc})


def test_the_version_follows_the_stored_shape_and_the_revision() -> None:
    version = shape_version(1, _shape("One wording."))
    assert shape_version(1, _shape("Another wording, the same shape.")) == version
    assert shape_version(1, _shape("One wording.", field="work")) != version  # renamed
    assert shape_version(1, _shape("One wording.", kind=int)) != version  # retyped
    assert shape_version(2, _shape("One wording.")) != version  # the code filling it changed
