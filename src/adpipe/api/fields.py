"""Constrained field types shared by request bodies: bounded, and free of NUL characters.

Postgres cannot store NUL in text or JSONB, and unbounded numbers would reach JSON as infinity;
both are refused here as 422 with the field's path rather than failing deeper down.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, QueryParameter
from msgspec import Meta

# Python's `\s` (what msgspec matches with) spelled out: JSON Schema tools read `\s` as
# ECMAScript's set, which lacks \x1c-\x1f, so the document and the server would disagree.
SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
NON_BLANK = rf"^[^\x00]*[^{SPACE}\x00][^\x00]*$"

Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NON_BLANK)]
Text = Annotated[str, Meta(min_length=1, max_length=2000, pattern=NON_BLANK)]
OptionalText = Annotated[str, Meta(max_length=5000, pattern=NO_NUL)]
Id = Annotated[str, Meta(min_length=1, max_length=200, pattern=NON_BLANK)]
Label = Annotated[str, Meta(min_length=1, max_length=100, pattern=NON_BLANK)]
Tag = Annotated[str, Meta(min_length=1, max_length=100, pattern=NON_BLANK)]
Tags = Annotated[list[Tag], Meta(max_length=50)]
# A port as `urlsplit` reads one: digits (leading zeros too) up to 65535, or nothing after `:`.
_PORT = r"0*(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# http(s), an optional user@, a host (no [IPv6] literal: `urlsplit` refuses malformed ones, and
# such hosts are never public), an optional port, then the rest; no spaces or NUL anywhere.
HttpUrl = Annotated[
    str,
    Meta(
        max_length=2048,
        pattern=rf"^https?://(?:[^{SPACE}\x00/?#\[\]]*@)?[^{SPACE}\x00@:/?#\[\]]+"
        rf"(?::(?:{_PORT})?)?(?:[/?#][^{SPACE}\x00]*)?$",
    ),
]
Color = Annotated[str, Meta(pattern=r"^#[0-9A-Fa-f]{6}$")]
Money = Annotated[float, Meta(ge=0, le=1e12)]
Feedback = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]

# ?page=1&pageSize=20: 1-based pages, newest first, at most 100 items a page.
PageNumber = Annotated[
    int, QueryParameter(ge=1, le=1_000_000, description="1-based page number (newest first)")
]
PageSize = Annotated[
    int, QueryParameter(name="pageSize", ge=1, le=100, description="Items per page, at most 100")
]
ClientIdFilter = Annotated[
    str | None, QueryParameter(name="clientId", max_length=200, description="Only this client's")
]
CampaignIdFilter = Annotated[
    str | None,
    QueryParameter(name="campaignId", max_length=200, description="Only this campaign's"),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        max_length=200,
        min_length=1,
        pattern=r"^[\x20-\x7e]{1,200}$",  # printable ASCII, as the idempotency store checks
        required=False,
        description="A retry with the same key answers the first attempt's response",
    ),
]
Prefer = Annotated[
    str | None,
    HeaderParameter(
        name="Prefer",
        max_length=200,
        required=False,
        description="`respond-async`: answer 202 at once instead of waiting for the planner",
    ),
]
