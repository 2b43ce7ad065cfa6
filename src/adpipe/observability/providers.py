"""Calls to paid model providers — LLM completions and text-to-speech — counted with their
tokens or characters, their cost and their time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .metrics import (
    LLM_CALLS,
    LLM_COST,
    LLM_DURATION,
    LLM_TOKENS,
    TTS_CALLS,
    TTS_CHARACTERS,
    TTS_COST,
    TTS_DURATION,
)

if TYPE_CHECKING:
    from adpipe.events.base import Usage


def record_llm_call(model: str, outcome: str, seconds: float, usage: Usage | None = None) -> None:
    """`outcome`: ok, error (transient: the caller may retry) or rejected (the provider refused)."""
    LLM_CALLS.labels(model, outcome).inc()
    LLM_DURATION.labels(model).observe(seconds)
    if usage is not None:
        LLM_TOKENS.labels(model, "prompt").inc(usage.prompt_tokens)
        LLM_TOKENS.labels(model, "completion").inc(usage.completion_tokens)
        LLM_COST.labels(model).inc(max(0.0, usage.cost))


def record_tts_call(
    model: str, outcome: str, seconds: float, *, characters: int = 0, cost: float = 0.0
) -> None:
    """For the voice service: one text-to-speech call of `characters` characters."""
    TTS_CALLS.labels(model, outcome).inc()
    TTS_DURATION.labels(model).observe(seconds)
    TTS_CHARACTERS.labels(model).inc(characters)
    TTS_COST.labels(model).inc(max(0.0, cost))
