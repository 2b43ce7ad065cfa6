"""Naming a file from its first bytes, for messages that say what a wrong file actually is."""

from __future__ import annotations

import pytest

from adpipe.media.sniff import HEAD_SIZE, ebml_doctype, sniff


def _ftyp(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"isom"


@pytest.mark.parametrize(
    ("head", "kind", "description"),
    [
        (_ftyp(b"isom"), "mp4", "an MP4 video"),
        (_ftyp(b"qt  "), "mov", "a QuickTime (MOV) video"),
        (_ftyp(b"M4A "), "m4a", "an M4A audio file"),
        (_ftyp(b"heic"), "heif", "a HEIC image"),
        (_ftyp(b"avif"), "avif", "an AVIF image"),
        (_ftyp(b"3gp4"), "3gp", "a 3GP video"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi", "an AVI video"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav", "a WAV audio file"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp", "a WebP image"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3", "an MP3 audio file"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 20, "mp3", "an MP3 audio file"),
        (b"OggS\x00\x02", "ogg", "an Ogg media file"),
        (b"fLaC\x00\x00\x00\x22", "flac", "a FLAC audio file"),
        (b"GIF89a\x01\x00\x01\x00", "gif", "a GIF image"),
        (b"II*\x00\x08\x00\x00\x00", "tiff", "a TIFF image"),
        (b"\x1f\x8b\x08\x00", "gzip", "a gzip archive"),
        (b'  [{"id": 1}, {"id": 2', "json", "a JSON document"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "svg", "an SVG image"),
        (b'<?xml version="1.0"?><feed/>', "xml", "an XML document"),
        (b"<!doctype html><title>x</title>", "html", "an HTML document"),
        (b"   \n\t ", "empty", "a file of only whitespace"),
        (b"\x00\x00\x00\x00\x00\x00", "unknown", "data of an unrecognised type"),
    ],
)
def test_files_are_named_by_their_first_bytes(head: bytes, kind: str, description: str) -> None:
    found = sniff(head)
    assert (found.kind, found.description) == (kind, description)


def test_a_text_sample_cut_inside_a_character_is_still_text() -> None:
    sample = ("é" * HEAD_SIZE).encode()[: HEAD_SIZE - 1]  # ends on half of a two-byte character
    assert sniff(sample).kind == "text"


def test_the_webm_doctype_is_read_from_the_ebml_header() -> None:
    header = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87\x81\x04"
    assert ebml_doctype(header) == "webm"
    assert ebml_doctype(header.replace(b"\x84webm", b"\x88matroska")) == "matroska"
    assert ebml_doctype(b"not ebml at all") is None
