"""Credentials out of URLs: what the log, the API and every message may show of a URL.

A presigned or token-bearing URL is a bearer credential: whoever reads it can fetch (or post to)
what it names. So everything that is recorded or shown gets `redact_url(url)` — the user info
(`user:pass@`) and the values of secret query parameters become `***`, the parameter names and the
rest of the URL stay as they were, character for character — and the full URL lives only where it
is used (see `adpipe.storage.url_secrets`). `redact_text` does the same to every URL inside a
message, for texts built from URLs or from library errors that may quote one.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

MASK = "***"

# Compared case-insensitively with each query (or fragment) parameter's decoded name.
SECRET_PARAMETERS = frozenset(
    name.lower()
    for name in (
        # AWS S3 presigned URLs (SigV4 and the older SigV2 forms)
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "Signature",
        "AWSAccessKeyId",
        "x-amz-security-token",
        # Google Cloud Storage signed URLs
        "X-Goog-Signature",
        "X-Goog-Credential",
        "GoogleAccessId",
        # Azure shared access signatures: the signature, and the terms it signs
        "sig",
        "sv",
        "se",
        "sp",
        "skoid",
        "sktid",
        "skt",
        "ske",
        "sks",
        "skv",
        # The usual names of tokens and keys
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "key",
        "api_key",
        "apikey",
        "api-key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "signature",
        "policy",
        "Key-Pair-Id",
    )
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A URL inside free text: up to whitespace, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`]+")


def is_secret_parameter(name: str) -> bool:
    return unquote_plus(name).strip().lower() in SECRET_PARAMETERS


def redact_url(url: str) -> str:
    """`url` with `***` for its user info and for every secret parameter's value.

    Nothing else changes (no re-encoding, no normalising), so `redact_url(u) == u` says exactly
    that `u` holds no credential this module knows of. A string that is not an absolute URL comes
    back as it is.
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        return url
    start = scheme.end()
    # The authority ends at the first `/`, `?` or `#` (as yarl, and so aiohttp, parse it); the
    # user info is what comes before its last `@`.
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        if found != -1:
            end = min(end, found)
    authority = url[start:end]
    at = authority.rfind("@")
    if at != -1:
        authority = MASK + authority[at:]
    rest = url[end:]
    fragment = ""
    if "#" in rest:
        rest, fragment = rest.split("#", 1)
        # OAuth's implicit flow puts tokens in the fragment (`#access_token=…`).
        fragment = "#" + _redact_parameters(fragment)
    if "?" in rest:
        path, query = rest.split("?", 1)
        rest = path + "?" + _redact_parameters(query)
    return url[:start] + authority + rest + fragment


def _redact_parameters(query: str) -> str:
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, equals, _value = part.partition("=")
        if equals and is_secret_parameter(name):
            parts[i] = f"{name}={MASK}"
    return "&".join(parts)


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (for messages that quote URLs, ours or a library's)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def has_credentials(url: str) -> bool:
    return redact_url(url) != url
