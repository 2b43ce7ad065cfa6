"""A scripted OpenAI-compatible chat server on 127.0.0.1: the LLM provider in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from aiohttp import web

# Token counts every scripted completion reports; cost follows from litellm's price list.
PROMPT_TOKENS = 1000
COMPLETION_TOKENS = 200


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted response: a completion carrying `content`, or an HTTP error."""

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = {}
    delay: float = 0.0
    finish_reason: str = "stop"


def completion(content: Any) -> Answer:
    """A completion whose message is `content` (JSON-encoded unless already text)."""
    return Answer(content=content if isinstance(content, str) else json.dumps(content))


def error(status: int, **headers: str) -> Answer:
    return Answer(status=status, headers=headers)


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.repeat_last = False
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.url = ""

    def play(self, *answers: Answer, repeat_last: bool = False) -> None:
        self.script = list(answers)
        self.repeat_last = repeat_last

    def user_prompts(self) -> list[str]:
        """The last user message of each request, in order."""
        return [
            next(m["content"] for m in reversed(r["messages"]) if m["role"] == "user")
            for r in self.requests
        ]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        self.paths.append(request.path)
        assert self.script, "the fake server ran out of scripted answers"
        keep = self.repeat_last and len(self.script) == 1
        answer = self.script[0] if keep else self.script.pop(0)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status != 200:
            body = {"error": {"message": f"scripted {answer.status}", "type": "server_error"}}
            return web.json_response(body, status=answer.status, headers=answer.headers)
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


@asynccontextmanager
async def serve() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake._handle)
    app.router.add_post("/chat/completions", fake._handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()
