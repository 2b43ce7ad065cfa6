"""The log's tamper evidence: every event is linked to the one before it in its stream *and* to the
one before it in the whole log, with an HMAC keyed by a secret that lives outside the database.

Threat model, in short (the README has it in full): someone who can write to the database but does
not hold the chain key can edit, insert or delete events, re-hash nothing that `verify` accepts,
delete a whole stream or a stream's tail (the next event in the log no longer chains), or rebuild
the read models from a doctored log — each is named by `verify`. What the chain alone cannot show
is the newest events cut off the end of the log; an exported anchor (`adpipe replay anchor`)
closes that up to the anchor's position. Without a key (`ADPIPE_CHAIN_KEY[_FILE]` unset) links are
plain SHA-256: they still catch accidents, not a forger.

Links hash the *stored* form of an event — its data and metadata as Postgres's jsonb prints them,
re-serialised canonically — so a number jsonb normalises (`-0.0`, `1e16`) hashes the same on
append and on verify.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypedDict, Unpack

KEYED: Final = "k1:"  # HMAC-SHA256 under the chain key
PLAIN: Final = "s1:"  # SHA-256 only: no key was configured when it was written
# Links written before the chain covered the whole log carry no prefix: SHA-256 over the previous
# link in the stream only (see `legacy_link`). They verify as before and are reported as unkeyed.


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds on
# every call, built once.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON: the same bytes before and after a JSONB round trip."""
    return _canonical(value)


class EventFields(TypedDict):
    """What a link covers besides the data and metadata (and the links before it)."""

    event_id: str
    stream: str
    version: int
    event_type: str
    recorded_at: datetime


def _body(*, data_canonical: str, metadata_canonical: str, **event: Unpack[EventFields]) -> str:
    # Exactly `canonical_json` of {"data", "id", "metadata", "recordedAt", "stream", "type",
    # "version"} — JSON composes, so the keys (already in sorted order) are joined by hand —
    # which lets the data and metadata be canonicalised ahead of time (and metadata once for a
    # run of events sharing it).
    return (
        f'{{"data":{data_canonical},"id":{_canonical(event["event_id"])},'
        f'"metadata":{metadata_canonical},'
        f'"recordedAt":{_canonical(event["recorded_at"].astimezone(UTC).isoformat())},'
        f'"stream":{_canonical(event["stream"])},"type":{_canonical(event["event_type"])},'
        f'"version":{_canonical(event["version"])}}}'
    )


def stored_as_written(value: Any) -> bool:
    """Whether jsonb stores `value` so that `canonical_stored` of its text is exactly
    `canonical_json(value)`, so the stored form need not be asked of Postgres.

    jsonb keeps strings, integers and booleans as they are and prints a number from its digits;
    JSON re-read from those digits differs only for floats whose repr has an exponent (1e16
    comes back as the integer 10000000000000000) and for -0.0 (numeric has no negative zero),
    so those — and NUL, which jsonb refuses — go the long way."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, float):
        return (
            math.isfinite(value)
            and "e" not in repr(value)
            and not (value == 0 and math.copysign(1.0, value) < 0)
        )
    if isinstance(value, dict):
        return all(stored_as_written(k) and stored_as_written(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(stored_as_written(v) for v in value)
    return value is None or isinstance(value, bool | int)


def canonical_stored(text: str) -> str:
    """The canonical form of a stored jsonb text (`data::text`), as links hash it."""
    return _canonical(json.loads(text))


@functools.lru_cache(maxsize=256)
def _canonical_metadata(text: str) -> str:
    return _canonical(json.loads(text))


def link(
    key: bytes | None,
    prev_in_stream: str,
    prev_in_log: str,
    *,
    data_text: str,
    metadata_text: str,
    **event: Unpack[EventFields],
) -> str:
    """One event's link; `*_text` are the stored jsonb texts (`data::text`), not our own JSON."""
    return link_canonical(
        key,
        prev_in_stream,
        prev_in_log,
        data_canonical=canonical_stored(data_text),
        metadata_canonical=_canonical_metadata(metadata_text),
        **event,
    )


def link_canonical(
    key: bytes | None,
    prev_in_stream: str,
    prev_in_log: str,
    *,
    data_canonical: str,
    metadata_canonical: str,
    **event: Unpack[EventFields],
) -> str:
    """`link`, given the stored texts already through `canonical_stored`."""
    body = _body(data_canonical=data_canonical, metadata_canonical=metadata_canonical, **event)
    message = f"{prev_in_stream}\n{prev_in_log}\n{body}".encode()
    if key is None:
        return PLAIN + hashlib.sha256(message).hexdigest()
    return KEYED + hmac.new(key, message, hashlib.sha256).hexdigest()


def legacy_link(
    prev_in_stream: str, *, data_text: str, metadata_text: str, **event: Unpack[EventFields]
) -> str:
    """The link of events recorded before keyed, log-wide chaining: SHA-256 per stream."""
    body = _body(
        data_canonical=canonical_stored(data_text),
        metadata_canonical=_canonical_metadata(metadata_text),
        **event,
    )
    return hashlib.sha256((prev_in_stream + body).encode()).hexdigest()


def is_keyed(stored: str) -> bool:
    return stored.startswith(KEYED)


def sign(key: bytes, payload: dict[str, Any]) -> str:
    """An HMAC over a small JSON document (an anchor), hex."""
    return hmac.new(key, canonical_json(payload).encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def ensure_key_file(path: Path) -> bool:
    """Creates a random chain key readable by its owner only, unless one exists; answers
    whether it created one. Losing the file means old keyed links can no longer be checked."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48) + "\n")
    return True
