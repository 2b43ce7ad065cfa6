"""`adpipe replay`: timelines, state at a point, verify (hash chains and read models), rebuild
with a live swap, JSONL export — run in-process against a real Postgres."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

from adpipe.context import Core
from adpipe.events.asset import AssetMetadata, AssetRegistered, AssetStored
from adpipe.events.catalogue import Metadata, decode_envelope, stream_id
from adpipe.events.party import ClientCreated, ClientProfile
from adpipe.events.webhook import WebhookSubscribed
from adpipe.projections.jobs import JobsProjection
from adpipe.replay.shadow import Shadow
from adpipe.storage.eventstore import NO_STREAM
from replay.kit import CatchUp, Replay
from webhooks.jobkit import append_each, lifecycle


async def some_history(core: Core) -> list[str]:
    """Two whole jobs, a client, an asset and a webhook; answers the job ids."""
    jobs = [str(uuid.uuid4()) for _ in range(2)]
    for job in jobs:
        await append_each(core.store, job, lifecycle(job, "alice"), actor="user:alice")
    client = str(uuid.uuid4())
    await core.store.append(
        stream_id("client", client),
        [ClientCreated(client_id=client, user_id="alice", profile=ClientProfile(name="Acme"))],
        NO_STREAM,
    )
    asset = str(uuid.uuid4())
    await core.store.append(
        stream_id("asset", asset),
        [
            AssetRegistered(asset_id=asset, user_id="alice", name="logo", asset_type="image"),
            AssetStored(
                blob_id="c" * 64,
                metadata=AssetMetadata(format="png", content_type="image/png", size=2048),
            ),
        ],
        NO_STREAM,
    )
    hook = str(uuid.uuid4())
    await core.store.append(
        stream_id("webhook", hook),
        [WebhookSubscribed(webhook_id=hook, user_id="alice", url="https://x.test/", events=["*"])],
        NO_STREAM,
        Metadata(actor="user:alice"),
    )
    return jobs


async def test_a_jobs_timeline_tells_its_story(core: Core, replay: Replay) -> None:
    (job, _) = await some_history(core)
    code, out, _ = await replay("job", job)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["time", "(UTC)", "pos", "actor"]
    assert len(lines) == 1 + len(lifecycle(job, "alice"))
    assert "user:alice" in lines[1] and "job.created" in lines[1]
    assert 'scene 2 regenerated with feedback "More energetic"' in out
    assert "render 50 %" in out
    assert "render completed: 30 s 1920x1080" in out

    code, out, _ = await replay("job", job, "--json")
    rows = json.loads(out)
    assert [r["type"] for r in rows][:2] == ["job.created", "job.scenes_generated"]
    assert rows[3]["summary"] == 'scene 2 regenerated with feedback "More energetic"'
    assert rows[0]["actor"] == "user:alice" and rows[0]["recordedAt"]


async def test_a_jobs_state_at_a_position_or_a_time(core: Core, replay: Replay) -> None:
    (job, _) = await some_history(core)
    events = await core.store.read_stream(stream_id("job", job))
    approved = next(e for e in events if e.type == "job.approved")

    code, out, _ = await replay("job", job, "--at", str(approved.position), "--json")
    document = json.loads(out)
    assert code == 0 and document["asOf"]["event"] == "job.approved"
    state = document["state"]
    assert state["status"] == "in_progress" and state["regenerations"] == 1
    assert state["scenes"][1]["description"] == "Scene 2, faster"

    code, out, _ = await replay("job", job, "--at", events[-2].recorded_at.isoformat())
    assert code == 0 and "status    rendering" in out and "progress  75 %" in out

    code, out, _ = await replay("job", job, "--at", "2001-01-01T00:00:00Z")
    assert code == 0 and "did not exist yet" in out


async def test_unknown_jobs_and_bad_arguments_exit_2(replay: Replay) -> None:
    code, _, err = await replay("job", str(uuid.uuid4()))
    assert code == 2 and "has no events" in err
    code, _, err = await replay("job", str(uuid.uuid4()), "--at", "yesterday")
    assert code == 2
    code, _, _ = await replay("rebuild", "nonsense")
    assert code == 2


async def test_verify_passes_on_a_healthy_database(
    core: Core, replay: Replay, catch_up: CatchUp
) -> None:
    await some_history(core)
    await catch_up()
    code, out, _ = await replay("verify")
    assert code == 0, out
    assert out.splitlines()[0] == "log: 24 events in 5 streams"
    for name in ("jobs", "clients", "assets", "campaigns", "webhooks"):
        assert f"read model {name}: matches the log (at position 24 of 24)" in out
    code, out, _ = await replay("verify", "--json")
    report = json.loads(out)
    assert report["ok"] and report["problems"] == []
    assert {"name": "jobs", "position": 24} in report["readModels"]


async def test_verify_names_the_stream_of_an_edited_event(
    core: Core, replay: Replay, catch_up: CatchUp
) -> None:
    (job, other) = await some_history(core)
    await catch_up()
    async with core.pool.connection() as conn:
        await conn.execute(
            "UPDATE events SET data = jsonb_set(data, '{feedback}', '\"Calmer\"')"
            " WHERE stream = %s AND type = 'job.scene_regenerated'",
            [stream_id("job", job)],
        )
    code, out, _ = await replay("verify", "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    log = [p for p in problems if p["check"] == "log"]
    assert [(p["stream"], p["version"]) for p in log] == [(stream_id("job", job), 4)]
    assert "does not match its hash" in log[0]["detail"]
    # The read model built from the original no longer matches what the log now says.
    scenes = [p for p in problems if p["check"] == "jobs"]
    assert scenes and all(job in p["key"] for p in scenes)
    assert all(other not in json.dumps(p) for p in problems)

    code, out, _ = await replay("verify")
    assert code == 1 and stream_id("job", job) in out


async def test_verify_finds_deleted_events_and_tampered_read_models(
    core: Core, replay: Replay, catch_up: CatchUp
) -> None:
    (job, other) = await some_history(core)
    await catch_up()
    async with core.pool.connection() as conn:
        await conn.execute(
            "DELETE FROM events WHERE stream = %s AND version = 6", [stream_id("job", job)]
        )
        await conn.execute("UPDATE jobs SET status = 'failed' WHERE id = %s", [other])
    code, out, _ = await replay("verify", "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    gap = next(p for p in problems if p["check"] == "log")
    assert gap["stream"] == stream_id("job", job) and gap["version"] == 7
    assert "versions 6 to 6 are missing" in gap["detail"]
    tampered = [p for p in problems if p["check"] == "jobs" and p["key"] == f"id={other}"]
    assert "status (read model 'failed', log 'completed')" in tampered[0]["detail"]


async def test_rebuild_swaps_in_identical_tables_with_their_indexes(
    core: Core, replay: Replay, catch_up: CatchUp
) -> None:
    await some_history(core)
    await catch_up()
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1"
    tables = ["jobs", "job_scenes", "webhooks"]
    async with core.pool.connection() as conn:
        before = await (await conn.execute(indexes, [tables])).fetchall()
        rows_before = await (await conn.execute("SELECT * FROM jobs ORDER BY id")).fetchall()
        await conn.execute("UPDATE jobs SET progress = 3")  # drift the rebuild must undo
    code, out, err = await replay("rebuild", "jobs", "webhooks")
    assert code == 0, err
    assert "rebuilt jobs up to position 24" in out and "rebuilt webhooks" in out
    async with core.pool.connection() as conn:
        assert await (await conn.execute(indexes, [tables])).fetchall() == before
        assert (
            await (await conn.execute("SELECT * FROM jobs ORDER BY id")).fetchall() == rows_before
        )
        cur = await conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'adpipe_%%'")
        assert await cur.fetchall() == []
        cur = await conn.execute("SELECT position FROM checkpoints WHERE name = 'projection:jobs'")
        assert await cur.fetchone() == (24,)
    assert (await replay("verify"))[0] == 0


async def test_export_writes_one_envelope_per_line(core: Core, replay: Replay) -> None:
    (job, _) = await some_history(core)
    code, out, _ = await replay("export")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 24
    envelopes = [decode_envelope(line) for line in lines]
    assert [e.position for e in envelopes] == sorted(e.position for e in envelopes)
    assert json.loads(lines[0])["recordedAt"]  # camelCase, as everywhere

    code, out, _ = await replay("export", "--since", str(envelopes[-3].position))
    assert [decode_envelope(line).id for line in out.splitlines()] == [e.id for e in envelopes[-2:]]
    code, out, _ = await replay("export", "--stream", stream_id("job", job))
    assert {decode_envelope(line).stream for line in out.splitlines()} == {stream_id("job", job)}
    code, out, _ = await replay("export", "--since", envelopes[-1].recorded_at.isoformat())
    assert out == ""


async def test_one_read_model_is_rebuilt_by_one_process_at_a_time(
    core: Core, replay: Replay
) -> None:
    await some_history(core)
    async with Shadow(core.pool, core.store, JobsProjection()).opened():
        code, _, err = await replay("rebuild", "jobs")
        assert code == 2 and "a rebuild or verify of jobs is already running" in err
        assert (await replay("rebuild", "clients"))[0] == 0
    assert (await replay("rebuild", "jobs"))[0] == 0


async def test_the_adpipe_command_runs_the_replay_tool(core: Core) -> None:
    (job, _) = await some_history(core)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adpipe.cli",
        "replay",
        "job",
        job,
        "--json",
        "--database-url",
        core.settings.database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert json.loads(out)[-1]["type"] == "job.render_completed"
