"""Helpers for core tests: reading back what reached JetStream, running adpipe as a subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats

from adpipe.events.catalogue import Envelope, decode_envelope

ROOT = Path(__file__).resolve().parents[2]


async def stream_messages(url: str, stream: str = "ADPIPE") -> list[Envelope]:
    """Every message in the JetStream stream, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out: list[Envelope] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            assert msg.data is not None
            out.append(decode_envelope(msg.data))
        return out
    finally:
        await nc.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.1)


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Starts a Python module or script with the test's environment; output goes to `log`."""
    full_env = {**os.environ, **env}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
