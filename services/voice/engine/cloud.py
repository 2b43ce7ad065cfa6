"""Cloud voices through litellm's `aspeech` (OpenAI's `POST /audio/speech` and the providers
litellm maps onto it): one request per call, no retries here (the voice service retries a
transient failure with backoff, as the planner does for its LLM).

The answer is MP3 without word timings; we decode it with PyAV for its true duration and estimate
the timings from its voiced stretches (`timing.estimate_from_energy`). litellm is imported on
first use: it takes seconds, and an offline deployment never needs it.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import os
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import av

from adpipe.voices import CLOUD_ENGINE

from .pcm import decode_mono
from .speech import Speech, TTSFailed
from .timing import estimate_from_energy

# litellm fetches its price list from GitHub at import unless told to use the bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ANALYSIS_RATE = 16_000  # decoded at this rate for duration and energy: plenty for speech
MAX_CHARACTERS = 4096  # OpenAI's limit per request; scripts are far shorter
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})


@functools.cache
def _litellm() -> ModuleType:
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _is_transient(exc: BaseException, litellm: ModuleType) -> bool:
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
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
    status = _status(exc)
    return status is not None and (status in _TRANSIENT_STATUS or status >= 500)


def _retry_after(exc: BaseException) -> float | None:
    headers: Mapping[str, str] | None = getattr(exc, "litellm_response_headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    if not headers:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _summary(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


class CloudSynthesizer:
    """`Synthesizer` over litellm. The endpoint and key come from the provider's usual variables
    (`OPENAI_API_KEY`, `OPENAI_BASE_URL`/`OPENAI_API_BASE`, …) unless `api_base` is given."""

    engine = CLOUD_ENGINE

    def __init__(
        self,
        model: str,
        *,
        timeout_seconds: float,
        price_per_character: float,
        api_base: str | None = None,
    ) -> None:
        self.model = model
        self._timeout = timeout_seconds
        self._price = price_per_character
        self._api_base = api_base

    async def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        text = " ".join(text.split())
        if not text:
            raise TTSFailed("there is no text to speak", code="empty_script")
        if len(text) > MAX_CHARACTERS:
            raise TTSFailed(
                f"the script has {len(text)} characters; a voice request takes at most "
                f"{MAX_CHARACTERS}",
                code="too_long",
            )
        audio = await self._request(text, voice, speed)
        try:
            samples = decode_mono(audio, ANALYSIS_RATE)
        except (av.FFmpegError, ValueError, OSError) as error:
            raise TTSFailed(
                f"the TTS provider's answer ({len(audio)} bytes) is not audio we can decode: "
                f"{error}",
                code="bad_audio",
            ) from None
        if samples.size == 0:
            raise TTSFailed("the TTS provider answered with empty audio", code="bad_audio")
        duration = samples.size / ANALYSIS_RATE
        return Speech(
            audio=audio,
            content_type="audio/mpeg",
            duration_seconds=round(duration, 3),
            words=estimate_from_energy(text, samples, ANALYSIS_RATE, duration),
            characters=len(text),
            cost=round(len(text) * self._price, 6),
            engine=CLOUD_ENGINE,
            voice=voice,
            speed=speed,
        )

    async def _request(self, text: str, voice: str, speed: float) -> bytes:
        litellm = _litellm()
        extra: dict[str, Any] = {"api_base": self._api_base} if self._api_base else {}
        try:
            # litellm's timeout covers the HTTP call; this one also bounds its bookkeeping.
            async with asyncio.timeout(self._timeout * 1.5 + 1):
                response = await litellm.aspeech(
                    model=self.model,
                    input=text,
                    voice=voice,
                    speed=speed,
                    response_format="mp3",
                    timeout=self._timeout,
                    max_retries=0,
                    **extra,
                )
        except TimeoutError:
            raise TTSFailed(
                f"the TTS provider did not answer within {self._timeout:g} s",
                code="timeout",
                transient=True,
            ) from None
        except Exception as exc:
            if _is_transient(exc, litellm):
                status = _status(exc)
                raise TTSFailed(
                    f"the TTS provider is unavailable ({status or 'no answer'}): {_summary(exc)}",
                    code="rate_limited" if status == 429 else "unavailable",
                    transient=True,
                    retry_after=_retry_after(exc),
                ) from None
            raise TTSFailed(
                f"the TTS provider rejected the request: {_summary(exc)}", code="rejected"
            ) from None
        content = getattr(response, "content", None)
        if not isinstance(content, bytes | bytearray) or not content:
            raise TTSFailed("the TTS provider answered without audio", code="bad_audio")
        return bytes(content)
