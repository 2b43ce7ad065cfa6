"""Fixtures for the cluster tests: a 3-node nats-server cluster on loopback, ready for JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adpipe.runtime.nats import EmbeddedNatsCluster
from testkit.cluster import wait_for_jetstream


@pytest.fixture
async def nats_cluster(tmp_path: Path) -> AsyncIterator[EmbeddedNatsCluster]:
    cluster = EmbeddedNatsCluster(tmp_path / "nats")
    try:
        cluster.start()
        await wait_for_jetstream(cluster.url)
        yield cluster
    finally:
        cluster.stop()
