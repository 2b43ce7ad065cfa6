"""The committed event contract (events/schema/) is exactly what the code generates."""

from __future__ import annotations

import json
from pathlib import Path

from adpipe.events import contract
from adpipe.events.catalogue import ALL_EVENTS, EVENT_TYPES


def test_the_committed_schemas_match_what_the_code_generates() -> None:
    stale = contract.differences()
    assert not stale, f"out of date (run `adpipe events schema`): {stale}"


def test_a_changed_event_type_is_detected(tmp_path: Path) -> None:
    contract.write(tmp_path)
    (tmp_path / "job.created.json").write_text("{}\n")
    (tmp_path / "job.retired.json").write_text("{}\n")
    assert contract.differences(tmp_path) == ["job.created.json", "job.retired.json"]


def test_every_event_type_has_a_schema_and_a_nats_channel() -> None:
    files = contract.generate()
    document = json.loads(files["asyncapi.json"])
    addresses = {c["address"] for c in document["channels"].values()}
    assert len(EVENT_TYPES) == len(ALL_EVENTS), "two event classes share a type name"
    for name in EVENT_TYPES:
        assert f"{name}.json" in files
        assert f"adpipe.{name}" in addresses
    assert json.loads(files["job.created.json"])["title"] == "job.created"
