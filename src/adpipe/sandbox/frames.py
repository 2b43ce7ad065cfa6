"""The pipe protocol between a sandbox and its child: length-prefixed pickles, both ways.

Parent to child (stdin): a setup frame of builtins only, then the call (function by reference,
arguments by value) — unpickled after the limits are in place, so its imports count against them.
Child to parent (a private copy of stdout): progress frames, then one final answer.
"""

from __future__ import annotations

import pickle
import struct
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

if TYPE_CHECKING:
    import asyncio

_LENGTH = struct.Struct(">Q")
# An answer is a result or an error, not bulk data (that goes through files): anything larger
# is a bug on the child's side, and the parent would have to buffer it.
MAX_FRAME_BYTES = 64 * 2**20

# What the child answers: ("ok", value) | ("raised", type, message, exception or None)
# | ("memory", message) | ("progress", value), the last any number of times before the others.
Kind = Literal["ok", "raised", "memory", "progress"]


class FrameTooLarge(Exception):
    pass


def encode(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


def read_frame(stream: BinaryIO) -> bytes:
    """Blocking read of one frame's pickle (the child's side); EOFError if the pipe closes first.

    Unpickled by the caller with `pickle.loads`, when it is ready for the imports that may do.
    """
    head = _read_exactly(stream, _LENGTH.size)
    (length,) = _LENGTH.unpack(head)
    return _read_exactly(stream, length)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the parent closed the pipe")
        data += chunk
    return bytes(data)


async def read_answer(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    """One frame from the child; IncompleteReadError when it died before writing it whole."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"the child sent a frame of {length} bytes")
    answer = pickle.loads(await reader.readexactly(length))
    assert isinstance(answer, tuple) and answer, "a child answers with a tagged tuple"
    return answer
