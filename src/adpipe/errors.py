"""One error tree: every failure adpipe raises on purpose is an `AdpipeError` with a `detail`.

Subclasses also inherit the matching builtin where one exists, so callers that only know Python's
exceptions still catch them sensibly. The API maps this tree to problem+json in one place.
"""

from __future__ import annotations

from typing import Any


class AdpipeError(Exception):
    """Root of adpipe's errors; `detail` is a sentence meant for the person who hit it."""

    status_code = 500
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(AdpipeError, ValueError):
    """Input breaks a rule; `errors` lists the failing fields."""

    status_code = 422
    title = "Validation failed"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])
        self.errors = errors or []


class NotFound(AdpipeError, LookupError):
    status_code = 404
    title = "Not found"


class Conflict(AdpipeError):
    """The request clashes with the current state of a resource."""

    status_code = 409
    title = "Conflict"


class ReferenceConflict(Conflict):
    """A well-formed request names something that does not exist for the caller, or whose state
    forbids the use (an unknown client, a pending asset, a key bound to another request).
    409, not 422: the body matches the API's schema; the server's state is what refuses it."""

    title = "Reference not usable"

    def __init__(self, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail, errors=errors)
        self.errors = errors


class JobStateConflict(ReferenceConflict):
    """A well-formed action or scene edit that the job's storyboard refuses: a scene it does not
    have, durations past the ad's limits, an asset not of this job, a script too long to speak.
    409, not 422: the same body fits the API's schema and may suit another job."""

    title = "Not possible with this job's storyboard"


class InvalidTransition(Conflict):
    """A job's status forbids the command (approve twice, regenerate after approval, …)."""

    title = "Action not allowed in this status"


class StreamVersionConflict(Conflict):
    """An append raced another writer: the stream is no longer at the expected version."""

    title = "Concurrent modification"

    def __init__(self, stream: str, expected: int | str, actual: int) -> None:
        super().__init__(
            f"stream {stream} is at version {actual}, expected {expected}",
            stream=stream,
            expected=expected,
            actual=actual,
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual


class PayloadTooLarge(AdpipeError):
    status_code = 413
    title = "Payload too large"


class Unauthorized(AdpipeError, PermissionError):
    status_code = 401
    title = "Unauthorized"


class DependencyUnavailable(AdpipeError, ConnectionError):
    """Postgres or NATS cannot be reached."""

    status_code = 503
    title = "Service unavailable"


class TooManyRequests(AdpipeError):
    """A per-user (or per-key) limit is reached; `retry_after` says when to try again (s)."""

    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, limit: str) -> None:
        super().__init__(detail, retry_after=retry_after, limit=limit)
        self.retry_after = retry_after
        self.limit = limit
