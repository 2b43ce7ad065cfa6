"""adpipe: an event-sourced backend for AI video ads.

The core every process shares: event store, NATS bus, blob store, settings, HTTP API and CLI.
"""

from __future__ import annotations

__version__ = "0.1.0"
