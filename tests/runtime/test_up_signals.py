"""A stop signal sent to `adpipe up` at any moment stops all of it promptly and leaves nothing.

Three runs on fresh state folders: the signal (SIGINT or SIGTERM) lands during start-up, right as
the API becomes ready, or after some requests. The seeded rng picks signal and moment; its seed is
printed so a failure can be replayed with ADPIPE_TEST_SEED.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

from adpipe.runtime.ports import free_port
from testkit.core import eventually
from testkit.up import processes_of, start_up, status, wait_gone

MOMENTS = ("during start-up", "right after ready", "after requests")
# Generous for a loaded 2-core machine; a stop normally takes a few seconds.
PROMPT = 45.0


async def _requests(base: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for n in range(3):
            async with session.post(f"{base}/api/v3/clients", json={"name": f"c{n}"}) as answer:
                assert answer.status == 201
            async with session.get(f"{base}/api/v3/jobs") as answer:
                assert answer.status == 200


async def _one_run(rng: random.Random, moment: str, sig: signal.Signals) -> None:
    home = Path(tempfile.mkdtemp(prefix="adpipe-signal-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = home / "up.log"
    proc = start_up(home, port, log)
    try:
        if moment == "during start-up":
            delay = rng.uniform(0.0, 5.0)
            await asyncio.sleep(delay)
        else:

            async def ready() -> bool:
                return await status(f"{base}/readyz") == 200

            await eventually(ready, within=120)
            delay = 0.0
            if moment == "after requests":
                await eventually(lambda: _exists(home / "dev-api-key"), within=30)
                await _requests(base, (home / "dev-api-key").read_text().strip())
        print(f"{moment}: {sig.name} after {delay:.2f} s", flush=True)
        sent = time.monotonic()
        proc.send_signal(sig)
        code = await asyncio.to_thread(proc.wait, PROMPT)
        took = time.monotonic() - sent
        print(f"  exited with {code} in {took:.1f} s", flush=True)
        # -sig: the signal came before Python ran adpipe's first line, when nothing was started.
        allowed = (0, -sig) if moment == "during start-up" else (0,)
        assert code in allowed, log.read_text(errors="replace")[-3000:]
        left = wait_gone(home, within=5)
        assert left == {}, f"left running after {sig.name} {moment}: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in processes_of(home):  # a failed run must not leave a stack behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


async def _exists(path: Path) -> bool:
    return path.exists()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_stop_signal_at_any_moment_stops_everything_promptly(rng: random.Random) -> None:
    # Both signals in every session, in a random order, at random moments.
    signals = [*rng.sample([signal.SIGINT, signal.SIGTERM], 2)]
    signals.append(rng.choice(signals))
    for moment, sig in zip(MOMENTS, signals, strict=True):
        await _one_run(rng, moment, sig)
