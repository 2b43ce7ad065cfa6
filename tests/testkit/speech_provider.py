"""A scripted OpenAI-compatible text-to-speech server on 127.0.0.1 (`POST /v1/audio/speech`): the
cloud voice provider in tests. It answers a real MP3, encoded with PyAV: one 300 Hz tone burst per
word of the input, `BURST_SECONDS_PER_CHARACTER` long per character at speed 1, with a short gap
after each word and a longer one after a full stop, so tests know when each word "is spoken"."""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import av
import msgspec
import numpy as np
from aiohttp import web

RATE = 24_000  # what OpenAI's voices answer in
BURST_SECONDS_PER_CHARACTER = 0.07
WORD_GAP_SECONDS = 0.05
SENTENCE_GAP_SECONDS = 0.35
LEAD_SECONDS = 0.1


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted response: speech (status 200), an HTTP error, or `body` as given."""

    status: int = 200
    headers: dict[str, str] = {}
    delay: float = 0.0
    body: bytes | None = None


def speech() -> Answer:
    return Answer()


def error(status: int, **headers: str) -> Answer:
    return Answer(status=status, headers=headers)


def bursts(text: str, speed: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of each word's tone burst."""
    spans = []
    at = LEAD_SECONDS
    for word in text.split():
        length = len(word) * BURST_SECONDS_PER_CHARACTER / speed
        spans.append((at, at + length))
        at += length + (SENTENCE_GAP_SECONDS if word.endswith(".") else WORD_GAP_SECONDS) / speed
    return spans


def mp3_of(text: str, speed: float) -> bytes:
    spans = bursts(text, speed)
    total = (spans[-1][1] if spans else 0.0) + LEAD_SECONDS
    samples = np.zeros(max(1, math.ceil(total * RATE)), np.float32)
    for start, end in spans:
        first, last = round(start * RATE), round(end * RATE)
        t = np.arange(last - first) / RATE
        samples[first:last] = 0.4 * np.sin(2 * math.pi * 300 * t)
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE)
        stream.layout = "mono"
        for begin in range(0, samples.size, 1152):
            chunk = samples[begin : begin + 1152][None, :]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk), format="flt", layout="mono"
            )
            frame.sample_rate = RATE
            frame.pts = begin
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


class FakeSpeechProvider:
    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.repeat_last = False
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.url = ""

    def play(self, *answers: Answer, repeat_last: bool = False) -> None:
        self.script = list(answers)
        self.repeat_last = repeat_last

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        answer = Answer()
        if self.script:
            keep = self.repeat_last and len(self.script) == 1
            answer = self.script[0] if keep else self.script.pop(0)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status != 200:
            error = {"error": {"message": f"scripted {answer.status}", "type": "server_error"}}
            return web.json_response(error, status=answer.status, headers=answer.headers)
        if answer.body is not None:
            return web.Response(body=answer.body, content_type="audio/mpeg")
        audio = await asyncio.to_thread(mp3_of, body["input"], float(body.get("speed") or 1.0))
        return web.Response(body=audio, content_type="audio/mpeg")


@asynccontextmanager
async def serve() -> AsyncIterator[FakeSpeechProvider]:
    fake = FakeSpeechProvider()
    app = web.Application()
    app.router.add_post("/v1/audio/speech", fake._handle)
    app.router.add_post("/audio/speech", fake._handle)
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
