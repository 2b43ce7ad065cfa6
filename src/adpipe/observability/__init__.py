"""Operating adpipe: Prometheus metrics, structured logs carrying job ids, OpenTelemetry traces.

`setup(settings, role)` is what each role process calls once at start: its log format, its
tracer (only when an OTLP endpoint is configured) and, for worker roles, its metrics port.
Modules: `metrics` (every metric), `collectors` (scrape-time reads), `logs`, `correlation` (the
ids on log lines), `tracing`, and the hooks the runtime calls (`http`, `delivery`, `jobs`, …).
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adpipe.settings import Settings

    from .serve import MetricsServer

# The API answers /metrics on its HTTP port; so does `adpipe up`, whose roles share its process.
_NO_METRICS_PORT = frozenset({"api", "up"})


def setup(settings: Settings, role: str, *, verbose: bool = False) -> MetricsServer | None:
    """Logging, tracing and the metrics port of a process playing `role`; answers the server."""
    from . import tracing
    from .logs import configure_logging
    from .serve import start_metrics_server

    configure_logging(log_format=settings.log_format, role=role, verbose=verbose)
    if tracing.configure(settings.otlp_traces_endpoint, service_name=f"adpipe-{role}"):
        atexit.register(tracing.shutdown)  # flush what is buffered when the process ends
    if role in _NO_METRICS_PORT:
        return None
    return start_metrics_server(settings, role)
