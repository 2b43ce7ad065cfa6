"""The blob store: content-addressed (SHA-256) bytes in chunks, streamed in and out.

`BlobStore` is the port; `PostgresBlobStore` keeps the seed's `asset_blobs` table plus
`blob_chunks`. The contract tests (tests/core/test_blobs.py) run against every implementation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from adpipe.errors import NotFound, PayloadTooLarge

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024  # 1 MiB: small enough to stream, large enough to keep row counts low
# Chunks written per transaction: a pooled connection is held for about 4 MiB of writing.
CHUNKS_PER_TRANSACTION = 4


class BlobInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    content_type: str
    size_bytes: int


class BlobStore(ABC):
    @abstractmethod
    async def put_stream(
        self, chunks: AsyncIterator[bytes], content_type: str, max_bytes: int | None = None
    ) -> BlobInfo:
        """Stores the bytes once (same bytes, same id); PayloadTooLarge past max_bytes."""

    @abstractmethod
    async def info(self, blob_id: str) -> BlobInfo: ...

    @abstractmethod
    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yields bytes [start, end) (end exclusive, None = to the end) in chunks."""

    async def put_bytes(self, data: bytes, content_type: str) -> BlobInfo:
        async def one() -> AsyncIterator[bytes]:
            for i in range(0, len(data), CHUNK_SIZE):
                yield data[i : i + CHUNK_SIZE]

        return await self.put_stream(one(), content_type)

    async def put_file(self, path: str | Path, content_type: str) -> BlobInfo:
        async def chunks() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while block := f.read(CHUNK_SIZE):
                    yield block

        return await self.put_stream(chunks(), content_type)

    async def read_bytes(self, blob_id: str) -> bytes:
        return b"".join([c async for c in self.read(blob_id)])

    async def to_file(self, blob_id: str, path: str | Path) -> None:
        with open(path, "wb") as f:
            async for chunk in self.read(blob_id):
                f.write(chunk)


class _Rechunker:
    """Turns arbitrary incoming pieces into fixed CHUNK_SIZE chunks, hashing and counting them."""

    def __init__(self, max_bytes: int | None) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes
        self._buffer = bytearray()

    def feed(self, piece: bytes) -> list[bytes]:
        self.sha.update(piece)
        self.size += len(piece)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise PayloadTooLarge(f"the content exceeds the limit of {self.max_bytes} bytes")
        self._buffer += piece
        out = []
        while len(self._buffer) >= CHUNK_SIZE:
            out.append(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]
        return out

    def flush(self) -> list[bytes]:
        rest, self._buffer = bytes(self._buffer), bytearray()
        return [rest] if rest else []


class PostgresBlobStore(BlobStore):
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def put_stream(
        self, chunks: AsyncIterator[bytes], content_type: str, max_bytes: int | None = None
    ) -> BlobInfo:
        # The id is the hash, known only at the end: chunks go in under a temporary id, a few
        # per short transaction, and are renamed by the last one. Between batches the connection
        # goes back to the pool, so ten large uploads at once never hold every connection (and
        # no transaction stays open for a whole upload). Whatever fails takes its chunks with it;
        # a writer that dies leaves them to `sweep_abandoned_uploads`.
        temp_id = f"upload-{uuid.uuid4()}"
        rechunker = _Rechunker(max_bytes)
        pending: list[bytes] = []
        seq = 0
        async with self.pool.connection() as conn:
            await conn.execute("INSERT INTO blob_uploads (temp_id) VALUES (%s)", [temp_id])
        try:
            async for piece in chunks:
                pending += rechunker.feed(piece)
                if len(pending) >= CHUNKS_PER_TRANSACTION:
                    seq = await self._write(temp_id, seq, pending)
                    pending = []
            pending += rechunker.flush()
            return await self._finish(temp_id, seq, pending, rechunker, content_type)
        except BaseException:
            await asyncio.shield(self._discard(temp_id))
            raise

    async def _write(self, temp_id: str, seq: int, chunks: list[bytes]) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            await self._insert(conn, temp_id, seq, chunks)
            await conn.execute(
                "UPDATE blob_uploads SET touched_at = now() WHERE temp_id = %s", [temp_id]
            )
        return seq + len(chunks)

    @staticmethod
    async def _insert(conn: Any, temp_id: str, seq: int, chunks: list[bytes]) -> None:
        for offset, chunk in enumerate(chunks):
            await conn.execute(
                "INSERT INTO blob_chunks (blob_id, seq, data) VALUES (%s, %s, %s)",
                [temp_id, seq + offset, chunk],
            )

    async def _finish(
        self,
        temp_id: str,
        seq: int,
        chunks: list[bytes],
        rechunker: _Rechunker,
        content_type: str,
    ) -> BlobInfo:
        blob_id = rechunker.sha.hexdigest()
        async with self.pool.connection() as conn, conn.transaction():
            await self._insert(conn, temp_id, seq, chunks)
            await conn.execute("DELETE FROM blob_uploads WHERE temp_id = %s", [temp_id])
            cur = await conn.execute(
                "INSERT INTO asset_blobs (id, content_type, size_bytes, chunk_size)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
                [blob_id, content_type, rechunker.size, CHUNK_SIZE],
            )
            if await cur.fetchone() is None:  # the same bytes are already stored
                await conn.execute("DELETE FROM blob_chunks WHERE blob_id = %s", [temp_id])
                return await self._info(conn, blob_id)
            await conn.execute(
                "UPDATE blob_chunks SET blob_id = %s WHERE blob_id = %s", [blob_id, temp_id]
            )
        return BlobInfo(id=blob_id, content_type=content_type, size_bytes=rechunker.size)

    async def _discard(self, temp_id: str) -> None:
        try:
            async with self.pool.connection() as conn, conn.transaction():
                await conn.execute("DELETE FROM blob_chunks WHERE blob_id = %s", [temp_id])
                await conn.execute("DELETE FROM blob_uploads WHERE temp_id = %s", [temp_id])
        except Exception as exc:  # the database is away: the sweeper removes them later
            log.warning("could not discard the chunks of %s: %s", temp_id, exc)

    async def sweep_abandoned_uploads(self, idle_seconds: float) -> int:
        """Deletes the chunks of writes untouched for `idle_seconds` (their writer died)."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM blob_uploads WHERE touched_at < now() - make_interval(secs => %s)"
                " RETURNING temp_id",
                [idle_seconds],
            )
            abandoned = [row[0] for row in await cur.fetchall()]
            if abandoned:
                await conn.execute("DELETE FROM blob_chunks WHERE blob_id = ANY(%s)", [abandoned])
        return len(abandoned)

    async def _info(self, conn: Any, blob_id: str) -> BlobInfo:
        cur = await conn.execute(
            "SELECT content_type, size_bytes FROM asset_blobs WHERE id = %s", [blob_id]
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"blob {blob_id} does not exist")
        return BlobInfo(id=blob_id, content_type=row[0], size_bytes=row[1])

    async def info(self, blob_id: str) -> BlobInfo:
        async with self.pool.connection() as conn:
            return await self._info(conn, blob_id)

    async def read(
        self, blob_id: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT size_bytes, chunk_size FROM asset_blobs WHERE id = %s", [blob_id]
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"blob {blob_id} does not exist")
        size, chunk_size = row
        end = size if end is None else min(end, size)
        if start >= end:
            return
        seq = start // chunk_size
        last = (end - 1) // chunk_size
        # One short query per chunk: a pooled connection is held only briefly, so a slow client
        # downloading a large video does not pin a connection for the whole transfer.
        while seq <= last:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT data FROM blob_chunks WHERE blob_id = %s AND seq = %s", [blob_id, seq]
                )
                chunk_row = await cur.fetchone()
            if chunk_row is None:
                raise NotFound(f"blob {blob_id} is missing chunk {seq}")
            data = bytes(chunk_row[0])
            base = seq * chunk_size
            yield data[max(0, start - base) : end - base]
            seq += 1
