"""A loopback TCP proxy in front of the API that a test can cut, like a dropped connection.

It also keeps the head of every HTTP request that passed, so a test can see what the browser
sent (say, `Last-Event-ID` on a resumed event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Pipe:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter


@dataclass
class CuttableProxy:
    upstream_port: int
    port: int = 0
    request_heads: list[str] = field(default_factory=list)
    _pipes: set[_Pipe] = field(default_factory=set)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> int:
        """Drops every open connection at once (no FIN handshake: a reset, as a network would)."""
        pipes = list(self._pipes)
        for pipe in pipes:
            pipe.client.transport.abort()
            pipe.upstream.transport.abort()
        return len(pipes)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        pipe = _Pipe(writer, up_writer)
        self._pipes.add(pipe)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, self._heads()),
                self._pump(up_reader, writer, None),
            )
        finally:
            self._pipes.discard(pipe)
            for w in (writer, up_writer):
                w.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        sniff: _HeadSniffer | None,
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while chunk := await reader.read(65536):
                if sniff is not None:
                    sniff.feed(chunk)
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(OSError, ConnectionError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()

    def _heads(self) -> _HeadSniffer:
        return _HeadSniffer(self.request_heads)


class _HeadSniffer:
    """Splits a client's byte stream into request heads, skipping bodies by Content-Length."""

    def __init__(self, heads: list[str]) -> None:
        self.heads = heads
        self.buffer = b""
        self.skip = 0

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        while True:
            if self.skip:
                taken = min(self.skip, len(self.buffer))
                self.buffer, self.skip = self.buffer[taken:], self.skip - taken
                if self.skip:
                    return
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            self.buffer = self.buffer[end + 4 :]
            self.heads.append(head)
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    self.skip = int(value.strip() or 0)


@contextlib.asynccontextmanager
async def cuttable_proxy(upstream_port: int) -> AsyncIterator[CuttableProxy]:
    proxy = CuttableProxy(upstream_port)
    server = await asyncio.start_server(proxy._handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        proxy.cut()
        await server.wait_closed()
