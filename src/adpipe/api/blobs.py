"""Serving blobs over HTTP: streamed from the blob store, with ETag, 304 and byte ranges (206).
HEAD answers the same status and headers (Content-Length included) without reading the blob."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import HttpMethod, Response
from litestar.response import Stream

from .errors import RangeNotSatisfiable

if TYPE_CHECKING:
    from litestar import Request

    from adpipe.storage.blobs import BlobStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Download managers and players ask HEAD for the size and validators before fetching.
BLOB_METHODS = [HttpMethod.GET, HttpMethod.HEAD]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=a-b | a- | -n`; None to send the whole body.

    Syntax we do not serve (several ranges, other units, garbage) is ignored, as RFC 9110
    allows; a well-formed range beyond the end is RangeNotSatisfiable (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last n bytes
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable("an empty suffix range selects nothing", size=size)
        return max(0, size - n), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if last != "" and int(last) < start:
        return None  # invalid, ignored
    if start >= size:
        raise RangeNotSatisfiable(f"the range starts past the end ({size} bytes)", size=size)
    return start, end


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


async def blob_response(
    blobs: BlobStore,
    request: Request[Any, Any, Any],
    blob_id: str,
    content_type: str,
    *,
    filename: str | None = None,
) -> Response[Any]:
    info = await blobs.info(blob_id)
    etag = f'"{blob_id}"'
    headers = {"etag": etag, "accept-ranges": "bytes", "cache-control": "private, max-age=3600"}
    if filename:
        headers["content-disposition"] = f'inline; filename="{filename}"'
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _etag_matches(if_none_match, etag):
        return Response(content=b"", status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    wanted = None if if_range and if_range.strip() != etag else request.headers.get("range")
    span = parse_range(wanted, info.size_bytes)
    if span is None:
        start, end, status = 0, info.size_bytes, 200
    else:
        (start, end), status = span, 206
        headers["content-range"] = f"bytes {start}-{end - 1}/{info.size_bytes}"
    headers["content-length"] = str(end - start)
    if request.method == HttpMethod.HEAD:
        return Response(content=b"", status_code=status, media_type=content_type, headers=headers)
    return Stream(
        blobs.read(blob_id, start, end),
        status_code=status,
        media_type=content_type,
        headers=headers,
    )
