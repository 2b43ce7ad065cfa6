"""Loopback TCP port helpers for the embedded servers: pick a free port, check one is free."""

from __future__ import annotations

import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the kernel considers free on 127.0.0.1 right now (it may be taken before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:`port` now.

    SO_REUSEADDR matches what Postgres and nats-server set, so a port that only has
    connections lingering in TIME_WAIT after a restart still counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def read_port(path: Path) -> int | None:
    """The port remembered in `path`, or None when there is none or it is unreadable."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def choose_port(requested: int | None, remembered: Path) -> int:
    """The requested port, else the one remembered from the last run if still free, else any."""
    if requested is not None:
        return requested
    previous = read_port(remembered)
    if previous is not None and port_is_free(previous):
        return previous
    return free_port()
