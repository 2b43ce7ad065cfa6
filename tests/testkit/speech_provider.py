"""A scripted OpenAI-compatible text-to-speech server on 127.0.0.1 (`POST /v1/audio/speech`): the
cloud voice provider in tests. It answers a real MP3, encoded with PyAV: one 300 Hz tone burst per
word of the input, `BURST_SECONDS_PER_CHARACTER` long per character at speed 1, with a short gap
after each word and a longer one after a full stop, so tests know when each word "is spoken"."""

from __future__ import annotations

import asyncio
import io
import math
from contextlib import AbstractAsyncContextManager
from typing import Any

import av
import numpy as np
from aiohttp import web

from testkit.scripted_http import Scripted, ScriptedProvider, on_loopback

RATE = 24_000  # what OpenAI's voices answer in
BURST_SECONDS_PER_CHARACTER = 0.07
WORD_GAP_SECONDS = 0.05
SENTENCE_GAP_SECONDS = 0.35
LEAD_SECONDS = 0.1


class Answer(Scripted, frozen=True, kw_only=True):
    """One scripted response: speech (status 200), an HTTP error, or `body` as given."""

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


class FakeSpeechProvider(ScriptedProvider[Answer]):
    def unscripted(self) -> Answer:
        return speech()  # unscripted requests are spoken

    async def respond(self, body: dict[str, Any], answer: Answer) -> web.StreamResponse:
        if answer.body is not None:
            return web.Response(body=answer.body, content_type="audio/mpeg")
        audio = await asyncio.to_thread(mp3_of, body["input"], float(body.get("speed") or 1.0))
        return web.Response(body=audio, content_type="audio/mpeg")


def serve() -> AbstractAsyncContextManager[FakeSpeechProvider]:
    return on_loopback(FakeSpeechProvider(), "/v1/audio/speech", "/audio/speech")
