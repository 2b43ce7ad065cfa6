"""The voices this deployment can speak: espeak-ng's (offline, from the `espeakng-loader` wheel)
always, a cloud provider's through litellm when a TTS model is configured. Pure and cheap: the
API imports it to validate `creative.voiceover` and to list voices; nothing here synthesizes."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import msgspec

SPEED_MIN = 0.5  # slower than this, espeak-ng drawls and cloud voices stretch unnaturally
SPEED_MAX = 2.0  # faster than this no listener follows an ad's narration
OFFLINE_DEFAULT_VOICE = "en-us"
CLOUD_DEFAULT_VOICE = "alloy"
OFFLINE_ENGINE = "espeak-ng"
CLOUD_ENGINE = "litellm"
# What the planners write per second of scene: ~150 words a minute, a calm ad read. espeak-ng
# speaks en-us at 175 wpm at speed 1.0 and a cloud voice at ~160, so a script within budget
# fits its scene with room for the lead-in, the pauses at full stops and the tail.
WORDS_PER_SECOND_BUDGET = 2.5
# Silence kept before and after a scene's narration (the defaults of `fit_narration`).
NARRATION_LEAD_SECONDS = 0.15
NARRATION_TAIL_SECONDS = 0.25

# OpenAI's text-to-speech voices (tts-1, tts-1-hd, gpt-4o-mini-tts); litellm passes the name on.
OPENAI_VOICES = ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")


class VoiceInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    language: str
    engine: str
    needs_network: bool


def word_budget(scene_seconds: float) -> int:
    """How many words a script may have to be spoken inside a scene of `scene_seconds`."""
    speaking = scene_seconds - NARRATION_LEAD_SECONDS - NARRATION_TAIL_SECONDS
    return max(1, math.floor(WORDS_PER_SECOND_BUDGET * max(0.0, speaking) + 1e-9))


def espeak_data_path() -> Path:
    """espeak-ng's voice data as shipped inside the `espeakng-loader` wheel."""
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


@functools.cache
def _espeak_languages() -> dict[str, str]:
    """espeak-ng's languages (lower case) and the voice file that speaks each, relative to its
    `lang/` folder, read from the files' `language` lines: listing needs no call into C."""
    found: dict[str, str] = {}
    root = espeak_data_path() / "lang"
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        for line in path.read_text("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "language":
                found.setdefault(parts[1].lower(), path.relative_to(root).as_posix())
                break
    return dict(sorted(found.items()))


def offline_voices() -> tuple[VoiceInfo, ...]:
    return tuple(
        VoiceInfo(name=language, language=language, engine=OFFLINE_ENGINE, needs_network=False)
        for language in _espeak_languages()
    )


def espeak_voice_file(name: str) -> str | None:
    """What espeak-ng's `SetVoiceByName` needs for the voice we list as `name` ("fr-fr" is
    spoken by "roa/fr"), or None when espeak-ng has no such voice."""
    return _espeak_languages().get(name.strip().lower())


def cloud_voices(tts_model: str | None) -> tuple[VoiceInfo, ...]:
    """The cloud model's voices. litellm speaks OpenAI's API for `openai/…` and compatible
    providers, whose voice names are OpenAI's; they speak the language of the text."""
    if not tts_model:
        return ()
    return tuple(
        VoiceInfo(name=name, language="multilingual", engine=CLOUD_ENGINE, needs_network=True)
        for name in OPENAI_VOICES
    )


def available_voices(tts_model: str | None) -> list[VoiceInfo]:
    return [*offline_voices(), *cloud_voices(tts_model)]


def find_voice(name: str, tts_model: str | None) -> VoiceInfo | None:
    wanted = name.strip().lower()
    return next((v for v in available_voices(tts_model) if v.name == wanted), None)


def default_voice(tts_model: str | None, configured: str | None) -> str:
    """The operator's configured voice, else the cloud default when a TTS model is set, else
    espeak-ng's American English."""
    if configured:
        return configured.strip().lower()
    return CLOUD_DEFAULT_VOICE if tts_model else OFFLINE_DEFAULT_VOICE
