"""Receiving an asset upload: the multipart body streamed to a temporary file, never buffered.

The size limit is enforced while the bytes arrive (413 at the first byte over), so an oversize
upload costs at most the limit in disk and nothing in memory. The file then goes to `probe`.
Bytes after the closing boundary are allowed only as a small epilogue; more is a 400 at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import multipart
from multipart import (
    MultipartError,
    MultipartSegment,
    ParserLimitReached,
    PushMultipartParser,
    parse_options_header,
)

from adpipe.errors import PayloadTooLarge, ValidationFailed

from .errors import BadRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar import Request

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024  # a form field is a name, a tag list or an id: small
MAX_PARTS = 64
# What may follow the closing boundary (RFC 2046's epilogue, which clients leave empty or a CRLF).
# Past this the body is refused at once instead of read to its end: a client could otherwise
# keep a request, its connection and its pooled resources busy for as long as it likes.
MAX_EPILOGUE_BYTES = 1024


@dataclass
class Upload:
    """The received file (a temporary path the caller removes) and the form's text fields."""

    path: Path
    size: int
    sha256: str
    filename: str | None
    content_type: str | None
    fields: dict[str, list[str]] = field(default_factory=dict)

    def digest(self) -> bytes:
        """Identifies the upload's content and fields (the idempotency fingerprint)."""
        parts = [self.sha256, self.filename or ""]
        parts += [f"{k}={v}" for k in sorted(self.fields) for v in self.fields[k]]
        return "\n".join(parts).encode()


def boundary_of(content_type: str) -> str:
    _, options = parse_options_header(content_type)
    boundary = options.get("boundary")
    if not boundary:
        raise BadRequest("a multipart/form-data body needs a boundary in its Content-Type")
    return str(boundary)


@contextlib.asynccontextmanager
async def receive_upload(request: Request[Any, Any, Any], max_bytes: int) -> AsyncIterator[Upload]:
    """Streams the multipart body to a temporary file; removed when the context ends."""
    boundary = boundary_of(request.headers.get("content-type", ""))
    fd, name = tempfile.mkstemp(prefix="adpipe-upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            upload = await _parse(request.stream(), boundary, out, path, max_bytes)
        if upload.filename is None:
            raise ValidationFailed(
                "the upload has no file",
                [{"field": FILE_FIELD, "message": "required: a file part named 'file'"}],
            )
        yield upload
    finally:
        path.unlink(missing_ok=True)


async def _parse(
    chunks: AsyncIterator[bytes], boundary: str, out: Any, path: Path, max_bytes: int
) -> Upload:
    sha = hashlib.sha256()
    upload = Upload(path=path, size=0, sha256="", filename=None, content_type=None)
    segment: MultipartSegment | None = None
    text: bytearray | None = None
    epilogue = 0
    try:
        with PushMultipartParser(boundary, max_segment_count=MAX_PARTS) as parser:
            async for chunk in chunks:
                if _complete(parser):
                    # Not drained: the answer goes out now and the server drops the connection
                    # with the rest of the body unread.
                    epilogue += len(chunk)
                    if epilogue > MAX_EPILOGUE_BYTES:
                        raise BadRequest(
                            "the multipart body goes on after its closing boundary"
                            f" (more than {MAX_EPILOGUE_BYTES} bytes)"
                        )
                    continue
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment, text = event, _start(event, upload)
                    elif event:
                        if text is None:
                            upload.size += len(event)
                            if upload.size > max_bytes:
                                raise PayloadTooLarge(
                                    f"the file exceeds the upload limit of {max_bytes} bytes"
                                )
                            sha.update(event)
                            out.write(event)
                        else:
                            text += event
                            if len(text) > MAX_FIELD_BYTES:
                                name = segment.name if segment else ""
                                raise PayloadTooLarge(f"form field {name!r} is too large")
                    elif segment is not None:
                        if text is not None:
                            _finish_field(segment, bytes(text), upload)
                        segment, text = None, None
    except ParserLimitReached:
        raise PayloadTooLarge(f"the form has more than {MAX_PARTS} parts") from None
    except MultipartError as exc:
        raise BadRequest(f"the multipart body is malformed: {exc}") from None
    upload.sha256 = sha.hexdigest()
    return upload


def _complete(parser: PushMultipartParser) -> bool:
    """Whether the closing boundary was seen. multipart (2.0) says so only in its private state:
    its `closed` stays False, and it silently swallows whatever follows. A test pins this."""
    return getattr(parser, "_state", None) is getattr(multipart, "_COMPLETE", False)


def _start(segment: MultipartSegment, upload: Upload) -> bytearray | None:
    """Begins a part: None for the file (streamed to disk), a buffer for a text field."""
    if segment.filename is None:
        return bytearray()
    if segment.name != FILE_FIELD:
        raise ValidationFailed(
            f"unexpected file field {segment.name!r}",
            [{"field": str(segment.name), "message": "files go in the field 'file'"}],
        )
    if upload.filename is not None:
        raise ValidationFailed(
            "one file per upload",
            [{"field": FILE_FIELD, "message": "more than one file"}],
        )
    upload.filename = segment.filename.replace("\x00", "")[:255] or "upload"
    upload.content_type = segment.content_type
    return None


def _finish_field(segment: MultipartSegment, raw: bytes, upload: Upload) -> None:
    name = segment.name or ""
    try:
        value = raw.decode(segment.charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise ValidationFailed(
            f"form field {name!r} is not valid text",
            [{"field": name, "message": "not valid UTF-8"}],
        ) from None
    if "\x00" in value or "\x00" in name:
        raise ValidationFailed(
            f"form field {name!r} contains a NUL character",
            [{"field": name.replace("\x00", ""), "message": "contains a NUL character"}],
        )
    upload.fields.setdefault(name, []).append(value)
