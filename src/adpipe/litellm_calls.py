"""What every litellm caller needs alike: the lazy import, which provider errors are worth a
retry, how long the provider asked us to wait, and a one-line summary of an error.

Shared by the planner's chat completions and the voice service's cloud speech. litellm is imported
on first use: it takes seconds, and an offline deployment never needs it.
"""

from __future__ import annotations

import email.utils
import functools
import os
import time
from collections.abc import Mapping
from types import ModuleType

# litellm fetches its price list from GitHub at import unless told to use the bundled copy; adpipe
# never talks to the internet behind the operator's back.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Besides 5xx: timeouts, conflicts, too early, rate limits — the same request may succeed later.
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})


@functools.cache
def litellm_module() -> ModuleType:
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on stdout
    litellm.telemetry = False
    return litellm


def status_of(exc: BaseException) -> int | None:
    """The provider's HTTP status, when the error carries one."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Rate-limited, failing or unreachable: worth the same request again after a pause."""
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    litellm = litellm_module()
    transient = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
    )
    if isinstance(exc, transient):
        return True
    status = status_of(exc)
    return status is not None and (status in _TRANSIENT_STATUS or status >= 500)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (Retry-After / retry-after-ms), if it said."""
    headers: Mapping[str, str] | None = getattr(exc, "litellm_response_headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    if not headers:
        return None
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def summary(exc: BaseException) -> str:
    """The error on one line, at most 300 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"
