"""The LLM port and its litellm implementation: one chat completion per call, retried with backoff
while the provider is rate-limited, failing or unreachable.

litellm is imported on first use: it takes seconds to import, and the built-in planner never needs
it. Its own retries are off (`num_retries=0`, `max_retries=0`); this module decides when to retry.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any, Protocol

import msgspec

from adpipe.events.base import Usage
from adpipe.litellm_calls import is_transient, litellm_module, retry_after, summary
from adpipe.observability import tracing
from adpipe.observability.providers import record_llm_call

from .brief import PlannerSettings
from .plan import PlanningFailed
from .prompt import Message


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    content: str | None
    usage: Usage
    finish_reason: str | None = None


class ChatModel(Protocol):
    """Answers a conversation with one message, following `response_format` where it can."""

    model: str

    async def complete(self, messages: list[Message], response_format: dict[str, Any]) -> Reply: ...


class LiteLLMChat:
    """`ChatModel` over litellm; endpoints and keys come from litellm's env vars unless
    `settings.api_base` overrides the endpoint."""

    def __init__(
        self,
        settings: PlannerSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        assert settings.model, "LiteLLMChat needs settings.model"
        self.model = settings.model
        self._settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()

    def _backoff(self, retry: int, exc: BaseException) -> float:
        cap = self._settings.retry_max_delay
        if (asked := retry_after(exc)) is not None:
            return min(asked, cap)
        # Exponential with jitter, so many workers hit by one outage do not retry in lockstep.
        delay = min(cap, self._settings.retry_base_delay * 2.0**retry)
        return delay * self._rng.uniform(0.5, 1.0)

    async def complete(self, messages: list[Message], response_format: dict[str, Any]) -> Reply:
        litellm = litellm_module()
        settings = self._settings
        extra: dict[str, Any] = {"api_base": settings.api_base} if settings.api_base else {}
        last: BaseException | None = None
        for retry in range(settings.provider_retries + 1):
            if last is not None:
                await self._sleep(self._backoff(retry - 1, last))
            started = time.perf_counter()
            try:
                with tracing.span(
                    f"llm {self.model}",
                    kind="client",
                    attributes={"gen_ai.request.model": self.model, "adpipe.retry": retry},
                ):
                    # litellm's own timeout covers the HTTP call; this one also bounds its
                    # bookkeeping.
                    async with asyncio.timeout(settings.timeout_seconds * 1.5 + 1):
                        response = await litellm.acompletion(
                            model=settings.model,
                            messages=messages,
                            response_format=response_format,
                            timeout=settings.timeout_seconds,
                            num_retries=0,
                            max_retries=0,
                            # Providers without structured output still get the prompt; the
                            # answer is validated either way.
                            drop_params=True,
                            **extra,
                        )
            except Exception as exc:
                transient = is_transient(exc)
                outcome = "error" if transient else "rejected"
                record_llm_call(self.model, outcome, time.perf_counter() - started)
                if not transient:
                    raise PlanningFailed(f"LLM request rejected: {summary(exc)}") from exc
                last = exc
                continue
            reply = self._reply(response, litellm)
            record_llm_call(self.model, "ok", time.perf_counter() - started, reply.usage)
            return reply
        assert last is not None
        raise PlanningFailed(
            f"LLM provider unavailable: {summary(last)} "
            f"(gave up after {settings.provider_retries + 1} tries)"
        ) from last

    def _reply(self, response: Any, litellm: ModuleType) -> Reply:
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:  # a model missing from the price list costs what we cannot know
            cost = 0.0
        return Reply(
            content=choice.message.content,
            finish_reason=getattr(choice, "finish_reason", None),
            usage=Usage(
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                cost=cost,
            ),
        )
