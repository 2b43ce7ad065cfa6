"""The blob store contract, run against every implementation; and the Postgres store's writes,
which hold a pooled connection only a few chunks at a time and leave nothing behind on failure."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

import pytest
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from adpipe.context import Core
from adpipe.errors import NotFound, PayloadTooLarge
from adpipe.storage.blobs import (
    CHUNK_SIZE,
    CHUNKS_PER_TRANSACTION,
    BlobStore,
    PostgresBlobStore,
)

MB = 1024 * 1024


# Every BlobStore implementation runs this contract: one entry each (the in-memory store, used by
# nothing else, was removed; Postgres is the only one that stays).
IMPLEMENTATIONS: dict[str, Callable[[Core], BlobStore]] = {"postgres": lambda core: core.blobs}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request: pytest.FixtureRequest, core: Core) -> BlobStore:
    return IMPLEMENTATIONS[request.param](core)


async def pieces(data: bytes, size: int = 300_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_bytes_come_back_whole_and_in_ranges(store: BlobStore) -> None:
    data = bytes(range(256)) * (3 * CHUNK_SIZE // 256 + 77)
    info = await store.put_stream(pieces(data), "video/mp4")
    assert info.id == hashlib.sha256(data).hexdigest() and info.size_bytes == len(data)
    assert await store.read_bytes(info.id) == data
    start, end = CHUNK_SIZE - 5, 2 * CHUNK_SIZE + 9
    assert b"".join([c async for c in store.read(info.id, start, end)]) == data[start:end]
    assert (await store.info(info.id)).content_type == "video/mp4"


async def test_the_same_bytes_are_stored_once(store: BlobStore) -> None:
    first = await store.put_bytes(b"same" * 1000, "image/png")
    again = await store.put_stream(pieces(b"same" * 1000, 7), "image/png")
    assert first == again


async def test_oversize_content_is_refused_and_unknown_blobs_are_not_found(
    store: BlobStore,
) -> None:
    with pytest.raises(PayloadTooLarge):
        await store.put_stream(pieces(b"x" * 5000), "image/png", max_bytes=4999)
    with pytest.raises(NotFound):
        await store.info("0" * 64)
    with pytest.raises(NotFound):
        await store.read_bytes("0" * 64)


async def test_a_failed_write_leaves_no_chunks(core: Core) -> None:
    data = b"y" * (CHUNK_SIZE * (CHUNKS_PER_TRANSACTION + 2))
    with pytest.raises(PayloadTooLarge):
        await core.blobs.put_stream(pieces(data), "video/mp4", max_bytes=len(data) - 1)
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM blob_chunks")
        assert await cur.fetchone() == (0,)
        cur = await conn.execute("SELECT count(*) FROM blob_uploads")
        assert await cur.fetchone() == (0,)


async def test_a_long_write_leaves_the_pool_free_between_batches(database_url: str) -> None:
    """With a pool of one connection, another query still gets it while a large write waits
    for its next bytes (say, from a slow disk or client)."""
    pool: AsyncConnectionPool = AsyncConnectionPool(
        database_url, min_size=1, max_size=1, open=False
    )
    await pool.open(wait=True)
    try:
        blobs = PostgresBlobStore(pool)
        more = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"a" * (CHUNK_SIZE * CHUNKS_PER_TRANSACTION)  # one whole batch
            await more.wait()
            yield b"b" * CHUNK_SIZE

        writing = asyncio.create_task(blobs.put_stream(slow(), "video/mp4"))
        while True:  # until the first batch is committed
            async with pool.connection(timeout=5) as conn:
                cur = await conn.execute("SELECT count(*) FROM blob_chunks")
                row = await cur.fetchone()
            if row and row[0] == CHUNKS_PER_TRANSACTION:
                break
            await asyncio.sleep(0.01)
        async with pool.connection(timeout=1) as conn:  # the writer does not hold it
            await conn.execute("SELECT 1")
        more.set()
        info = await writing
        assert info.size_bytes == CHUNK_SIZE * (CHUNKS_PER_TRANSACTION + 1)
    except PoolTimeout:
        pytest.fail("the write held the only pooled connection while waiting for its bytes")
    finally:
        await pool.close()


async def test_the_chunks_of_a_writer_that_died_are_swept(core: Core) -> None:
    async with core.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO blob_uploads (temp_id, touched_at)"
            " VALUES ('upload-dead', now() - interval '2 hours'), ('upload-live', now())"
        )
        for temp_id in ("upload-dead", "upload-live"):
            await conn.execute(
                "INSERT INTO blob_chunks (blob_id, seq, data) VALUES (%s, 0, 'x')", [temp_id]
            )
    assert isinstance(core.blobs, PostgresBlobStore)
    assert await core.blobs.sweep_abandoned_uploads(3600) == 1
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT blob_id FROM blob_chunks")
        assert await cur.fetchall() == [("upload-live",)]
