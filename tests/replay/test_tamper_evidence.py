"""A forger with write access to the database but not the chain key cannot make `verify` pass:
edits re-hashed without the key, deleted stream tails, deleted streams, a cut log end (with an
anchor), and doctored anchors are all named. Numbers jsonb normalises hash as stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adpipe.context import Core, open_core
from adpipe.events.catalogue import stream_id
from adpipe.events.party import (
    CampaignCreated,
    CampaignProfile,
    ClientCreated,
    ClientProfile,
    ClientUpdated,
)
from adpipe.settings import load_settings
from adpipe.storage.chain import link
from adpipe.storage.eventstore import NO_STREAM
from replay.kit import Replay

KEY = "a-chain-key-of-at-least-32-characters-0123456789"


@pytest.fixture
async def keyed(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Core]:
    """A Core appending keyed links; `adpipe replay` in this test finds the same key."""
    monkeypatch.setenv("ADPIPE_CHAIN_KEY", KEY)
    settings = load_settings({"ADPIPE_CHAIN_KEY": KEY}, database_url=database_url)
    async with open_core(settings) as opened:
        yield opened


async def three_clients(core: Core) -> list[str]:
    """Three client streams of two events each, interleaved in the log; answers their streams."""
    streams = [stream_id("client", str(uuid.uuid4())) for _ in range(3)]
    for stream in streams:
        client = stream.removeprefix("client-")
        profile = ClientProfile(name=f"Client {client[:4]}")
        await core.store.append(
            stream, [ClientCreated(client_id=client, user_id="alice", profile=profile)], NO_STREAM
        )
    for stream in streams:
        await core.store.append(stream, [ClientUpdated(profile=ClientProfile(name="New"))], 1)
    return streams


async def rehash_from(core: Core, position: int, key: bytes | None) -> None:
    """What a forger does after an edit: recompute every link from `position` on, with `key`
    (None: plain SHA-256, the best anyone without the real key can do)."""
    async with core.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT position, id, stream, version, type, data::text, metadata::text,"
            " recorded_at, hash FROM events ORDER BY position"
        )
        rows = await cur.fetchall()
        heads: dict[str, str] = {}
        log = ""
        for pos, event_id, stream, version, kind, data, meta, at, stored in rows:
            if pos >= position:
                stored = link(
                    key,
                    heads.get(stream, ""),
                    log,
                    event_id=str(event_id),
                    stream=stream,
                    version=version,
                    event_type=kind,
                    data_text=data,
                    metadata_text=meta,
                    recorded_at=at,
                )
                await conn.execute("UPDATE events SET hash = %s WHERE position = %s", [stored, pos])
            heads[stream], log = stored, stored


async def verify(replay: Replay, *args: str) -> tuple[int, list[dict[str, object]]]:
    code, out, err = await replay("verify", "--log-only", "--json", *args)
    assert code in (0, 1), err
    return code, json.loads(out)["problems"]


async def test_a_keyed_log_verifies(keyed: Core, replay: Replay) -> None:
    await three_clients(keyed)
    code, problems = await verify(replay)
    assert (code, problems) == (0, [])
    _, out, _ = await replay("verify", "--log-only", "--json")
    assert json.loads(out)["keyedLinks"] == 6


@pytest.mark.parametrize("forged_key", [None, b"a guess at the key, 32 chars long!!"])
async def test_an_edit_rehashed_without_the_key_is_named(
    keyed: Core, replay: Replay, forged_key: bytes | None
) -> None:
    streams = await three_clients(keyed)
    async with keyed.pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE events SET data = jsonb_set(data, '{profile,name}', '\"Forged\"')"
            " WHERE stream = %s AND version = 1 RETURNING position",
            [streams[1]],
        )
        (edited,) = await cur.fetchone() or (0,)
    await rehash_from(keyed, edited, forged_key)
    code, problems = await verify(replay)
    assert code == 1
    first = problems[0]
    assert (first["position"], first["stream"], first["version"]) == (edited, streams[1], 1)


async def test_a_deleted_stream_tail_is_named(keyed: Core, replay: Replay) -> None:
    streams = await three_clients(keyed)
    async with keyed.pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM events WHERE stream = %s AND version = 2 RETURNING position", [streams[0]]
        )
        (deleted,) = await cur.fetchone() or (0,)
    code, problems = await verify(replay)
    assert code == 1
    # The next event in the log (another stream's) pointed at the deleted link.
    assert problems[0]["position"] == deleted + 1
    assert "events between were deleted" in str(problems[0]["detail"])


async def test_a_deleted_stream_is_named(keyed: Core, replay: Replay) -> None:
    streams = await three_clients(keyed)
    async with keyed.pool.connection() as conn:
        await conn.execute("DELETE FROM events WHERE stream = %s", [streams[1]])
    code, problems = await verify(replay)
    assert code == 1
    assert problems[0]["position"] == 3  # right after client 2's first event (position 2)


async def test_a_log_cut_short_is_caught_by_an_anchor(
    keyed: Core, replay: Replay, tmp_path: Path
) -> None:
    await three_clients(keyed)
    anchor = tmp_path / "anchor.json"
    code, _, err = await replay("anchor", "--output", str(anchor))
    assert code == 0, err
    assert json.loads(anchor.read_text())["position"] == 6
    assert (await verify(replay, "--anchor", str(anchor)))[0] == 0

    async with keyed.pool.connection() as conn:
        await conn.execute("DELETE FROM events WHERE position >= 5")
    assert (await verify(replay))[0] == 0  # the chain alone cannot see a cut end
    code, problems = await verify(replay, "--anchor", str(anchor))
    assert code == 1 and problems[0]["position"] == 6
    assert "deleted from its end" in str(problems[0]["detail"])


async def test_an_anchor_edited_to_match_a_doctored_log_is_refused(
    keyed: Core, replay: Replay, tmp_path: Path
) -> None:
    await three_clients(keyed)
    anchor = tmp_path / "anchor.json"
    assert (await replay("anchor", "--output", str(anchor)))[0] == 0
    document = json.loads(anchor.read_text())
    document["position"] = 4
    anchor.write_text(json.dumps(document))
    code, problems = await verify(replay, "--anchor", str(anchor))
    assert code == 1 and problems[0]["check"] == "anchor"


async def test_links_written_without_the_key_are_refused_once_it_is_in_use(
    keyed: Core, database_url: str, replay: Replay
) -> None:
    await three_clients(keyed)
    async with open_core(load_settings({}, database_url=database_url)) as unkeyed:
        await three_clients(unkeyed)
    code, problems = await verify(replay)
    assert code == 1 and problems[0]["position"] == 7
    assert "not keyed" in str(problems[0]["detail"])
    assert (await verify(replay, "--unkeyed-until", "12"))[0] == 0


@pytest.mark.parametrize("budget", [-0.0, 1e16, 0.1, 12345678.9])
async def test_numbers_jsonb_normalises_hash_as_stored(
    keyed: Core, replay: Replay, budget: float
) -> None:
    client = str(uuid.uuid4())
    await keyed.store.append(
        stream_id("client", client),
        [ClientCreated(client_id=client, user_id="alice", profile=ClientProfile(name="A"))],
        NO_STREAM,
    )
    campaign = str(uuid.uuid4())
    profile = CampaignProfile(name="Q4", budget=budget)
    event = CampaignCreated(
        campaign_id=campaign, user_id="alice", client_id=client, profile=profile
    )
    await keyed.store.append(stream_id("campaign", campaign), [event], NO_STREAM)
    assert await verify(replay) == (0, [])
