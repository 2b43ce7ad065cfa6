"""NATS JetStream: connecting (one server or a cluster), and the one stream (`ADPIPE`) that carries
every event — created once, then only ever changed in the settings a caller names."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BadRequestError, NotFoundError, ServerError

from adpipe.errors import AdpipeError, DependencyUnavailable
from adpipe.settings import Settings

log = logging.getLogger(__name__)

SUBJECTS = ["adpipe.>"]
# What a stream gets when it is created and the caller did not say: the settings' default dedup
# window (JetStream's own 2 min), and one copy (a single nats-server cannot hold more).
DEFAULT_DUPLICATE_WINDOW = Settings().duplicate_window_seconds
DEFAULT_REPLICAS = 1
# JetStream refuses more than five copies of a stream.
MAX_REPLICAS = 5


class StreamConfigError(AdpipeError, ValueError):
    """The stream cannot have the asked-for configuration (say 3 replicas on one server)."""


def server_urls(url: str) -> list[str]:
    """`NATS_URL` as a server list: several servers of one cluster are comma-separated."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise DependencyUnavailable("NATS_URL is empty: name at least one nats:// server")
    return servers


async def connect(
    url: str,
    *,
    name: str = "adpipe",
    ping_interval: int = 10,
    max_outstanding_pings: int = 3,
    reconnect_time_wait: float = 0.5,
    **options: Any,
) -> NATS:
    """A client that keeps reconnecting forever, to any server of the list or of the cluster.

    The first connect fails fast with a clear error. A killed server closes its sockets and is
    left at once; a silent one (a partition, a frozen VM) is given up after `ping_interval` ×
    `max_outstanding_pings` unanswered pings — nats-py's default is four minutes.
    """
    servers = server_urls(url)

    async def disconnected() -> None:
        if not client.is_closed:  # closing on purpose calls this too
            log.warning("%s: lost its NATS connection; reconnecting", name)

    async def reconnected() -> None:
        log.warning("%s: reconnected to NATS at %s", name, client.connected_url)

    async def error(exc: Exception) -> None:
        log.warning("%s: NATS error: %s", name, exc)

    settings: dict[str, Any] = {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": reconnect_time_wait,
        "connect_timeout": 5,
        "allow_reconnect": True,
        "ping_interval": ping_interval,
        "max_outstanding_pings": max_outstanding_pings,
        "disconnected_cb": disconnected,
        "reconnected_cb": reconnected,
        "error_cb": error,
        **options,
    }
    client = NATS()
    try:
        await client.connect(servers=servers, **settings)
    except Exception as exc:
        raise DependencyUnavailable(f"cannot reach NATS at {url}: {exc}") from exc
    return client


def _new_stream_config(
    name: str, duplicate_window: float | None, replicas: int | None
) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=list(SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DEFAULT_DUPLICATE_WINDOW if duplicate_window is None else duplicate_window,
        num_replicas=DEFAULT_REPLICAS if replicas is None else replicas,
        max_age=7 * 24 * 3600,  # the Postgres log is the record; NATS only carries recent traffic
    )


def _check_replicas(replicas: int | None) -> None:
    if replicas is not None and not 1 <= replicas <= MAX_REPLICAS:
        raise StreamConfigError(
            f"stream replicas must be between 1 and {MAX_REPLICAS}, not {replicas}"
        )


async def ensure_stream(
    js: JetStreamContext,
    name: str = "ADPIPE",
    duplicate_window: float | None = None,
    *,
    replicas: int | None = None,
) -> StreamInfo:
    """Creates the stream, or brings the settings the caller names up to date; safe for every
    process to call at any time.

    A setting left as None keeps the stream's current value (or the default, on creation): a
    service that only wants the stream to exist must not reset a duplicate window or a replica
    count the operator or the relay chose. Nothing is sent when nothing differs, so the many
    processes calling this on every (re)subscription cost one stream info each.
    """
    _check_replicas(replicas)
    for _ in range(3):
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            try:
                return await js.add_stream(_new_stream_config(name, duplicate_window, replicas))
            except (BadRequestError, ServerError) as exc:
                # Either another process created it in between (with other settings: update that
                # one), or JetStream cannot hold it (more replicas than servers): say so.
                if not await _exists(js, name):
                    raise StreamConfigError(
                        f"JetStream refused to create stream {name} with "
                        f"{replicas or DEFAULT_REPLICAS} replica(s): {exc.description}"
                    ) from exc
                continue
        current = info.config
        wanted = dataclasses.replace(
            current,
            subjects=sorted({*(current.subjects or []), *SUBJECTS}),
            duplicate_window=(
                current.duplicate_window if duplicate_window is None else duplicate_window
            ),
            num_replicas=current.num_replicas if replicas is None else replicas,
        )
        if _same(current, wanted):
            return info
        log.info(
            "updating stream %s: replicas %s -> %s, duplicate window %ss -> %ss",
            name,
            current.num_replicas,
            wanted.num_replicas,
            current.duplicate_window,
            wanted.duplicate_window,
        )
        try:
            return await js.update_stream(wanted)
        except (BadRequestError, ServerError) as exc:
            raise StreamConfigError(
                f"JetStream refused to update stream {name} to {wanted.num_replicas} replicas "
                f"and a {wanted.duplicate_window:g}s duplicate window: {exc.description}"
            ) from exc
    raise DependencyUnavailable(f"stream {name} kept changing while being created")


async def _exists(js: JetStreamContext, name: str) -> bool:
    try:
        await js.stream_info(name)
    except NotFoundError:
        return False
    return True


def _same(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) == wanted.subjects
        and current.num_replicas == wanted.num_replicas
        and current.duplicate_window == wanted.duplicate_window
    )
