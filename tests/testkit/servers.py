"""What the root fixtures do between tests, as plain helpers so a test can run them twice.

`fresh_database` clones the migrated template and drops the clone afterwards, even with a
connection left open; `clean_nats` restarts a stopped session server and deletes every stream.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator

import nats
import psycopg

from adpipe.runtime.nats import EmbeddedNats
from adpipe.runtime.postgres import EmbeddedPostgres

_database_numbers = itertools.count(1)


@contextlib.asynccontextmanager
async def fresh_database(server: EmbeddedPostgres, template: str) -> AsyncIterator[str]:
    """URL of a new database cloned from `template`, dropped when the block ends."""
    name = f"test_{next(_database_numbers)}"
    async with await psycopg.AsyncConnection.connect(server.url(), autocommit=True) as conn:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield server.url(name)
    finally:
        async with await psycopg.AsyncConnection.connect(server.url(), autocommit=True) as conn:
            # FORCE: a connection the test forgot to close must not keep the database alive.
            await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def clean_nats(server: EmbeddedNats) -> str:
    """The URL of `server`, started if an earlier test stopped it, with no JetStream stream."""
    url = server.start()
    client = await nats.connect(url, allow_reconnect=False, connect_timeout=5)
    try:
        manager = client.jsm()
        # Deleting a stream deletes its consumers; KV buckets and object stores are streams too.
        while streams := await manager.streams_info():
            for stream in streams:
                assert stream.config.name is not None
                await manager.delete_stream(stream.config.name)
    finally:
        await client.close()
    return url
