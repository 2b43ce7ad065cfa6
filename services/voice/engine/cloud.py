"""Cloud voices through litellm's `aspeech` (OpenAI's `POST /audio/speech` and the providers
litellm maps onto it): one request per call, no retries here (the voice service retries a
transient failure with backoff, as the planner does for its LLM).

The answer is MP3 without word timings; we decode it with PyAV for its true duration and estimate
the timings from its voiced stretches (`timing.estimate_from_energy`). litellm is imported on
first use: it takes seconds, and an offline deployment never needs it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import av

from adpipe.litellm_calls import (
    is_transient,
    litellm_module,
    retry_after,
    status_of,
    summary,
)
from adpipe.voices import CLOUD_ENGINE

from .pcm import decode_mono
from .speech import Speech, TTSFailed
from .timing import estimate_from_energy

ANALYSIS_RATE = 16_000  # decoded at this rate for duration and energy: plenty for speech
MAX_CHARACTERS = 4096  # OpenAI's limit per request; scripts are far shorter


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
        litellm = litellm_module()
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
            if is_transient(exc):
                status = status_of(exc)
                raise TTSFailed(
                    f"the TTS provider is unavailable ({status or 'no answer'}): {summary(exc)}",
                    code="rate_limited" if status == 429 else "unavailable",
                    transient=True,
                    retry_after=retry_after(exc),
                ) from None
            raise TTSFailed(
                f"the TTS provider rejected the request: {summary(exc)}", code="rejected"
            ) from None
        content = getattr(response, "content", None)
        if not isinstance(content, bytes | bytearray) or not content:
            raise TTSFailed("the TTS provider answered without audio", code="bad_audio")
        return bytes(content)
