"""A scripted OpenAI-compatible chat server on 127.0.0.1: the LLM provider in tests."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiohttp import web

from testkit.scripted_http import Scripted, ScriptedProvider, on_loopback

# Token counts every scripted completion reports; cost follows from litellm's price list.
PROMPT_TOKENS = 1000
COMPLETION_TOKENS = 200


class Answer(Scripted, frozen=True, kw_only=True):
    """One scripted response: a completion carrying `content`, or an HTTP error."""

    content: str | None = None
    finish_reason: str = "stop"


def completion(content: Any) -> Answer:
    """A completion whose message is `content` (JSON-encoded unless already text)."""
    return Answer(content=content if isinstance(content, str) else json.dumps(content))


def error(status: int, **headers: str) -> Answer:
    return Answer(status=status, headers=headers)


class FakeOpenAI(ScriptedProvider[Answer]):
    def user_prompts(self) -> list[str]:
        """The last user message of each request, in order."""
        return [
            next(m["content"] for m in reversed(r["messages"]) if m["role"] == "user")
            for r in self.requests
        ]

    async def respond(self, body: dict[str, Any], answer: Answer) -> web.StreamResponse:
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.content},
                        "finish_reason": answer.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            }
        )


def serve() -> AbstractAsyncContextManager[FakeOpenAI]:
    return on_loopback(FakeOpenAI(), "/v1/chat/completions", "/chat/completions")
