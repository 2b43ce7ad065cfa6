"""Name what a file is from its first bytes, so a wrong file fails saying what it actually is.

Only a label for messages and a gate before the decoders; the decoders decide validity.
"""

from __future__ import annotations

import json

import msgspec

HEAD_SIZE = 4096

IMAGE_KINDS = frozenset({"jpeg", "png", "gif", "webp", "bmp", "tiff", "heif", "avif", "svg", "ico"})
MEDIA_KINDS = frozenset(
    {"mp4", "mov", "m4a", "3gp", "webm", "mkv", "wav", "avi", "mp3", "ogg", "flac", "mpegts"}
)


class Sniffed(msgspec.Struct, frozen=True):
    kind: str
    description: str  # reads after "the content is": "a PNG image", "an HTML document"


_FTYP_KINDS = {
    b"qt  ": ("mov", "a QuickTime (MOV) video"),
    b"M4A ": ("m4a", "an M4A audio file"),
    b"M4B ": ("m4a", "an M4A audio file"),
    b"heic": ("heif", "a HEIC image"),
    b"heix": ("heif", "a HEIC image"),
    b"mif1": ("heif", "a HEIF image"),
    b"msf1": ("heif", "a HEIF image"),
    b"avif": ("avif", "an AVIF image"),
    b"avis": ("avif", "an AVIF image"),
}


def major_brand(head: bytes) -> bytes | None:
    """The ISO-BMFF major brand (b"isom", b"qt  ", b"M4A " …) if the file starts with ftyp."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12]
    return None


def ebml_doctype(head: bytes) -> str | None:
    """The DocType of an EBML file ("webm" or "matroska"), read from its header."""
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    at = head.find(b"\x42\x82", 4, 64)  # the DocType element id
    if at < 0 or at + 3 > len(head):
        return None
    size_byte = head[at + 2]
    if not size_byte & 0x80:  # only the one-byte size form occurs for a short string
        return None
    size = size_byte & 0x7F
    return head[at + 3 : at + 3 + size].rstrip(b"\x00").decode("ascii", "replace")


def sniff(head: bytes) -> Sniffed:
    if not head:
        return Sniffed("empty", "an empty file")
    for check in (_image, _media, _document):
        if (found := check(head)) is not None:
            return found
    return Sniffed("unknown", "data of an unrecognised type")


def _image(head: bytes) -> Sniffed | None:
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("jpeg", "a JPEG image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("png", "a PNG image")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("gif", "a GIF image")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("webp", "a WebP image")
    if head[:2] == b"BM" and len(head) > 14:
        return Sniffed("bmp", "a BMP image")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("tiff", "a TIFF image")
    if head[:4] == b"\x00\x00\x01\x00":
        return Sniffed("ico", "an ICO icon")
    return None


def _media(head: bytes) -> Sniffed | None:
    brand = major_brand(head)
    if brand is not None:
        if brand in _FTYP_KINDS:
            return Sniffed(*_FTYP_KINDS[brand])
        if brand.startswith(b"3g"):
            return Sniffed("3gp", "a 3GP video")
        return Sniffed("mp4", "an MP4 video")
    doctype = ebml_doctype(head)
    if doctype == "webm":
        return Sniffed("webm", "a WebM video")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("mkv", "a Matroska (MKV) video")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("wav", "a WAV audio file")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("avi", "an AVI video")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        # 0xFFE2/0xFFE3/0xFFF2…: MPEG audio frame sync with a layer III header.
        return Sniffed("mp3", "an MP3 audio file")
    if head.startswith(b"OggS"):
        return Sniffed("ogg", "an Ogg media file")
    if head.startswith(b"fLaC"):
        return Sniffed("flac", "a FLAC audio file")
    if head[0] == 0x47 and len(head) > 188 and head[188] == 0x47:
        return Sniffed("mpegts", "an MPEG transport stream")
    return None


def _document(head: bytes) -> Sniffed | None:
    if head.startswith(b"%PDF-"):
        return Sniffed("pdf", "a PDF document")
    if head.startswith(b"PK\x03\x04"):
        return Sniffed("zip", "a ZIP archive")
    if head.startswith(b"\x1f\x8b"):
        return Sniffed("gzip", "a gzip archive")
    text = _as_text(head)
    if text is None:
        return None
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or any(
        tag in lowered[:1024] for tag in ("<html", "<head", "<body")
    ):
        return Sniffed("html", "an HTML document")
    if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
        return Sniffed("svg", "an SVG image")
    if lowered.startswith("<?xml"):
        return Sniffed("xml", "an XML document")
    if lowered[:1] in ("{", "["):
        if _looks_like_json(text):
            return Sniffed("json", "a JSON document")
    if lowered:
        return Sniffed("text", "a text file")
    return Sniffed("empty", "a file of only whitespace")


def _as_text(head: bytes) -> str | None:
    head = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may end in the middle of a multi-byte character; anything earlier is binary.
        if len(head) < HEAD_SIZE - 3 or exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ch < " " and ch not in "\t\r\n\f" for ch in text):
        return None
    return text


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        # The sample may cut a longer body short: judge by how it starts.
        opening = text.lstrip()[1:].lstrip()[:1]
        return opening != "" and opening in '"{[]}-0123456789tfn'
    return True
