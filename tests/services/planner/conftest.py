"""Planner test fixtures: a loopback-only network guard and a sample brief with assets."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

# Before anything can import litellm: never fetch its price list from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from adpipe.services.planner.engine import Brief, PlannerAsset

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def _is_loopback(host: Any) -> bool:
    if host is None or host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module", autouse=True)
def loopback_only() -> Iterator[None]:
    """Fails any test of the planner that tries to reach beyond this machine (litellm included)."""
    original_connect = socket.socket.connect
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise AssertionError(f"planner tests must not connect to {address!r}")
        original_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host if not isinstance(host, bytes) else host.decode()):
            raise AssertionError(f"planner tests must not resolve {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo


@pytest.fixture
def brief() -> Brief:
    """The seed's smart-watch example."""
    return Brief(
        product="Smart Watch",
        target_audience="Tech-savvy professionals aged 25-40",
        key_message="Stay connected to what matters most",
        call_to_action="Buy Now at SmartWatch.com",
        style="Modern and sleek",
        tone="Energetic and inspiring",
        visual_elements=["Product shots", "lifestyle imagery", "urban environment"],
        duration_seconds=30.0,
    )


@pytest.fixture
def assets() -> list[PlannerAsset]:
    return [
        PlannerAsset(id="asset-hero", type="image", name="Product Hero", width=1920, height=1080),
        PlannerAsset(
            id="asset-clip",
            type="video",
            name="Lifestyle Clip",
            width=1280,
            height=720,
            duration=12.5,
        ),
        PlannerAsset(id="asset-jingle", type="audio", name="Jingle", duration=30.0),
    ]
