"""Event filters of a subscription: `*`, `<kind>.*` (e.g. `job.*`) or an exact event type."""

from __future__ import annotations

from collections.abc import Iterable

from adpipe.events.catalogue import EVENT_TYPES, STREAM_KINDS

# Every valid filter, for documenting them (the API's OpenAPI enum).
EVENT_FILTERS: tuple[str, ...] = (
    "*",
    *(f"{kind}.*" for kind in STREAM_KINDS),
    *sorted(EVENT_TYPES),
)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid filter, or None when it is."""
    if pattern == "*" or pattern in EVENT_TYPES:
        return None
    kind, _, rest = pattern.partition(".")
    if rest == "*":
        if kind in STREAM_KINDS:
            return None
        return f"unknown event kind {kind!r}; kinds are {', '.join(STREAM_KINDS)}"
    return (
        f"unknown event type {pattern!r}: use an exact type such as job.render_completed,"
        " a kind such as job.*, or *"
    )


def matches(patterns: Iterable[str], event_type: str) -> bool:
    kind = event_type.split(".", 1)[0]
    return any(p == "*" or p == event_type or p == f"{kind}.*" for p in patterns)
