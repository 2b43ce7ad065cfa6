"""The voice engine: scripts in, narration out. espeak-ng offline (word-timed by its own events),
any cloud voice litellm speaks (timings estimated from the audio); `fit_narration` makes a
narration fit its scene. Knows nothing of NATS or Postgres."""

from __future__ import annotations

from adpipe.voices import cloud_voices, offline_voices

from .cloud import CloudSynthesizer
from .espeak import EspeakSynthesizer, close
from .fit import FittedNarration, fit_narration
from .speech import Speech, Synthesizer, TTSFailed


def synthesizer_for(
    voice: str,
    *,
    tts_model: str | None,
    timeout_seconds: float,
    price_per_character: float,
    api_base: str | None = None,
) -> Synthesizer:
    """The engine that speaks `voice`: espeak-ng for its languages, the cloud model for its
    voices. Raises `TTSFailed` (permanent, code "unknown_voice") for a voice neither has."""
    name = voice.strip().lower()
    if any(v.name == name for v in cloud_voices(tts_model)):
        assert tts_model is not None
        return CloudSynthesizer(
            tts_model,
            timeout_seconds=timeout_seconds,
            price_per_character=price_per_character,
            api_base=api_base,
        )
    if any(v.name == name for v in offline_voices()):
        return EspeakSynthesizer(timeout_seconds=timeout_seconds)
    hint = " (cloud voices need ADPIPE_TTS_MODEL)" if tts_model is None else ""
    raise TTSFailed(f"no engine here speaks the voice {voice!r}{hint}", code="unknown_voice")


__all__ = [
    "CloudSynthesizer",
    "EspeakSynthesizer",
    "FittedNarration",
    "Speech",
    "Synthesizer",
    "TTSFailed",
    "close",
    "fit_narration",
    "synthesizer_for",
]
