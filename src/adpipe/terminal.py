"""Text for a terminal: user-supplied strings shown with their control characters escaped.

A product name or feedback can hold ANSI escapes (recolour or clear the auditor's screen, rewrite
the title), a newline that fakes a row of the timeline, or bidi overrides that reorder what is
shown. `printable` makes each of them visible instead (`\\x1b`, `\\n`, `\\u202e`).
"""

from __future__ import annotations

import unicodedata

# Bidi embeddings, overrides and isolates: invisible, and they reorder the text around them.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with C0/C1 controls, DEL and bidi controls escaped; everything else unchanged."""
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) == "Cc" or c in _BIDI else c for c in text)
