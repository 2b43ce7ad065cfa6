"""The contract for outside subscribers: a JSON Schema per event type and an AsyncAPI document.

Generated from the msgspec types (`adpipe events schema`); a test fails when the committed files in
`events/schema/` differ from what the code generates, so the contract never drifts silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from .catalogue import ALL_EVENTS, Envelope, subject_for

SCHEMA_DIR = Path(__file__).parent / "schema"


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def event_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of one event payload (with the shared definitions inlined)."""
    out: dict[str, dict[str, Any]] = {}
    for cls in ALL_EVENTS:
        schema = msgspec.json.schema(cls)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = cls.type_name()
        schema["description"] = (cls.__doc__ or cls.type_name()).strip().splitlines()[0]
        out[f"{cls.type_name()}.json"] = schema
    return out


def envelope_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(Envelope)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "adpipe event envelope"
    return schema


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in ALL_EVENTS:
        name = cls.type_name()
        key = name.replace(".", "_")
        messages[key] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or name).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "the event id (UUID)"}
                },
            },
            "payload": {"$ref": "envelope.json"},
            "x-data-schema": {"$ref": f"{name}.json"},
        }
        channels[key] = {
            "address": subject_for(name),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "adpipe events",
            "version": "1",
            "description": (
                "Every adpipe event, published on NATS JetStream stream ADPIPE at subject "
                "adpipe.<type> with header Nats-Msg-Id = event id. The payload is the envelope; "
                "its `data` follows the per-type schema. Delivery is at-least-once: consumers "
                "deduplicate by envelope id."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "localhost:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": {
            f"receive_{key}": {"action": "receive", "channel": {"$ref": f"#/channels/{key}"}}
            for key in channels
        },
        "components": {"messages": messages},
    }


def generate() -> dict[str, str]:
    """File name -> content of everything in events/schema/."""
    files = {name: _dump(schema) for name, schema in event_schemas().items()}
    files["envelope.json"] = _dump(envelope_schema())
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def write(folder: Path = SCHEMA_DIR) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = generate()
    for old in folder.glob("*.json"):
        if old.name not in files:
            old.unlink()
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return sorted(files)


def differences(folder: Path = SCHEMA_DIR) -> list[str]:
    """Names of files that are missing, stale or extra compared with the generated contract."""
    files = generate()
    present = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.json")}
    stale = [n for n, c in files.items() if present.get(n) != c]
    extra = [n for n in present if n not in files]
    return sorted(stale + extra)
