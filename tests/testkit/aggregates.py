"""Helpers for the pure aggregate tests: a stream's history as envelopes, jobs that depend on a
client, campaign or asset, and what a guard's `matching` picks out of an event's data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from adpipe.domain.guards import NoneSince
from adpipe.events.base import Event
from adpipe.events.catalogue import Envelope, Metadata
from adpipe.events.job import JobAssetRef, JobContext, JobCreated
from webhooks.jobkit import job_created

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(stream: str, *events: Event, after: int = 0) -> list[Envelope]:
    """`events` as recorded in `stream` after version `after`, a minute apart."""
    return [
        Envelope(
            id=str(uuid.uuid4()),
            stream=stream,
            version=after + i,
            position=after + i,
            type=type(event).type_name(),
            data=event,
            metadata=Metadata(),
            recorded_at=T0 + timedelta(minutes=after + i),
        )
        for i, event in enumerate(events, start=1)
    ]


def job(
    *, client_id: str, campaign_id: str | None = None, asset_ids: tuple[str, ...] = ()
) -> JobCreated:
    """A `job.created` for this client (and campaign), using these assets."""
    created = job_created(str(uuid.uuid4()), "alice")
    assets = [JobAssetRef(asset_id=a, type="image") for a in asset_ids]
    return msgspec.structs.replace(
        created,
        context=JobContext(client_id=client_id, campaign_id=campaign_id),
        creative=msgspec.structs.replace(created.creative, assets=assets),
    )


def _contains(data: Any, pattern: Any) -> bool:
    """Postgres' jsonb `@>` on JSON values (objects by key, arrays by any element)."""
    if isinstance(pattern, dict):
        return isinstance(data, dict) and all(
            k in data and _contains(data[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(data, list) and all(any(_contains(d, p) for d in data) for p in pattern)
    return bool(data == pattern)


def trips(guard: NoneSince, event: Event) -> bool:
    """Whether appending `event` (to another stream, after the guard's position) trips `guard`."""
    if type(event).type_name() not in guard.types:
        return False
    return guard.matching is None or _contains(msgspec.to_builtins(event), guard.matching)
