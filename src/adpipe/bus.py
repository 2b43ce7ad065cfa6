"""NATS JetStream: connecting, and the one stream (`ADPIPE`) that carries every event."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from adpipe.errors import DependencyUnavailable

log = logging.getLogger(__name__)

SUBJECTS = ["adpipe.>"]


async def connect(url: str, *, name: str = "adpipe", **options: Any) -> NATS:
    """A client that keeps reconnecting forever; the first connect fails fast with a clear error."""
    try:
        return await nats.connect(
            url,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            allow_reconnect=True,
            **options,
        )
    except Exception as exc:
        raise DependencyUnavailable(f"cannot reach NATS at {url}: {exc}") from exc


async def ensure_stream(
    js: JetStreamContext, name: str = "ADPIPE", duplicate_window: float = 120.0
) -> None:
    """Creates the stream, or updates it to this config; safe for every process to call."""
    config = StreamConfig(
        name=name,
        subjects=SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=duplicate_window,
        max_age=7 * 24 * 3600,  # the Postgres log is the record; NATS only carries recent traffic
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)
