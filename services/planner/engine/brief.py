"""What the planner is given: the ad's brief, the job's assets, and how to reach an LLM."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import msgspec

from adpipe.events.asset import AssetType


class Brief(msgspec.Struct, frozen=True, kw_only=True):
    """The job's ad basics and creative direction, as the planner needs them."""

    product: str
    target_audience: str
    key_message: str
    call_to_action: str
    style: str
    tone: str = ""
    visual_elements: list[str] = []
    duration_seconds: float = 30.0
    aspect_ratio: str = "16:9"


class PlannerAsset(msgspec.Struct, frozen=True, kw_only=True):
    """One downloaded asset of the job; metadata is whatever the downloader could read."""

    id: str
    type: AssetType
    name: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def visual_ids(assets: Iterable[PlannerAsset]) -> list[str]:
    """Ids of the assets a scene can show; audio is a soundtrack, never a scene's picture."""
    return [a.id for a in assets if a.type != "audio"]


def audio_ids(assets: Iterable[PlannerAsset]) -> list[str]:
    return [a.id for a in assets if a.type == "audio"]


class PlannerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How to plan. Without a model the built-in planner answers and nothing leaves the machine."""

    # litellm model name ("openai/gpt-4o-mini", "ollama/llama3.1", …); None => built-in planner.
    model: str | None = None
    # Answers that fail validation are fed back to the model this many times in all.
    max_attempts: int = 3
    # 429s, 5xx, timeouts and connection errors per call; the provider is down after that.
    provider_retries: int = 4
    # First backoff delay in seconds; it doubles per retry, with jitter, up to retry_max_delay.
    retry_base_delay: float = 1.0
    # Cap on one backoff (and on a provider's Retry-After) so a job never waits minutes silently.
    retry_max_delay: float = 30.0
    # One LLM request; storyboards are short, so a minute is generous even for slow local models.
    timeout_seconds: float = 60.0
    # Endpoint override; otherwise litellm's own env vars (OPENAI_API_BASE, …) decide.
    api_base: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PlannerSettings:
        """Reads ADPIPE_LLM_* variables; provider keys stay in litellm's own variables."""
        env = os.environ if environ is None else environ
        default = cls()

        def number(name: str, fallback: float) -> float:
            raw = env.get(name, "").strip()
            return float(raw) if raw else fallback

        return cls(
            model=env.get("ADPIPE_LLM_MODEL", "").strip() or None,
            max_attempts=int(number("ADPIPE_LLM_MAX_ATTEMPTS", default.max_attempts)),
            provider_retries=int(number("ADPIPE_LLM_PROVIDER_RETRIES", default.provider_retries)),
            retry_base_delay=number("ADPIPE_LLM_RETRY_BASE_DELAY", default.retry_base_delay),
            retry_max_delay=number("ADPIPE_LLM_RETRY_MAX_DELAY", default.retry_max_delay),
            timeout_seconds=number("ADPIPE_LLM_TIMEOUT_SECONDS", default.timeout_seconds),
            api_base=env.get("ADPIPE_LLM_API_BASE", "").strip() or None,
        )
