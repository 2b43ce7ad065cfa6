"""The metrics port of a worker role: Prometheus text on http://<metrics_host>:<port>/metrics.

Every process has its own registry, so each role process serves its own port. With
`ADPIPE_METRICS_PORT=9464` (say) the roles take fixed offsets from it — relay 9464, projector
9465, downloader 9466, planner 9467, renderer 9468, webhooks 9469 — and a second replica of a
role on the same host takes the next free one of `port + 10`, `port + 20`, … The API needs no port
of its own: it answers `GET /metrics` on its HTTP port.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, start_http_server

if TYPE_CHECKING:
    from threading import Thread
    from wsgiref.simple_server import WSGIServer

    from adpipe.settings import Settings

log = logging.getLogger(__name__)

ROLE_OFFSETS: dict[str, int] = {
    "relay": 0,
    "projector": 1,
    "downloader": 2,
    "planner": 3,
    "renderer": 4,
    "webhooks": 5,
    "voice": 6,
}
REPLICA_STRIDE = 10
REPLICA_TRIES = 10


@dataclass
class MetricsServer:
    role: str
    host: str
    port: int
    _server: WSGIServer
    _thread: Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def role_port(base: int, role: str) -> int | None:
    """The documented port of `role` for base port `base` (None: a role without one)."""
    offset = ROLE_OFFSETS.get(role)
    return None if offset is None else base + offset


def start_metrics_server(settings: Settings, role: str) -> MetricsServer | None:
    """Serves this process's metrics for `role`, or None when `metrics_port` is unset.

    A base port of 0, or a role without an offset, gets whatever port the kernel hands out; the
    log line says which."""
    if settings.metrics_port is None:
        return None
    host = settings.metrics_host
    first = role_port(settings.metrics_port, role) if settings.metrics_port else None
    candidates = [first + k * REPLICA_STRIDE for k in range(REPLICA_TRIES)] if first else []
    for port in [*candidates, 0]:
        if port > 65535:
            break
        try:
            server, thread = start_http_server(port, addr=host, registry=REGISTRY)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        metrics = MetricsServer(role, host, server.server_port, server, thread)
        if first and metrics.port != first:
            log.warning("metrics port %d is taken; %s serves on %d", first, role, metrics.port)
        log.info("metrics of %s on %s", role, metrics.url)
        return metrics
    raise OSError(f"no free port for the metrics of {role}")
