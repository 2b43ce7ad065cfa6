"""`adpipe up`: the whole stack from nothing, ready on /readyz, stopped cleanly, data kept."""

from __future__ import annotations

import asyncio
import re
import signal
import tempfile
from pathlib import Path

import aiohttp
import pytest

from adpipe.runtime.ports import free_port
from testkit.core import eventually, spawn


async def get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.slow
async def test_up_starts_everything_answers_ready_and_keeps_data_across_restarts() -> None:
    home = Path(tempfile.mkdtemp(prefix="adpipe-up-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"ADPIPE_HOME": str(home)}
    log = home / "up.log"
    key = ""
    for run in (1, 2):
        proc = spawn(["-m", "adpipe.cli", "up", "--port", str(port)], env, log)
        try:

            async def ready() -> bool:
                try:
                    return (await get(f"{base}/readyz"))[0] == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, within=90)

            async def announced() -> bool:
                return "adpipe is up at" in log.read_text()

            await eventually(announced, within=30)
            if run == 1:
                key = (home / "dev-api-key").read_text().strip()
                assert re.search(rf"API key \(user dev\): {re.escape(key)}", log.read_text())
                assert f"studio: {base}/ " in log.read_text()
                async with aiohttp.ClientSession() as session, session.get(f"{base}/") as page:
                    assert page.status == 200 and page.content_type == "text/html"
                    assert "Content-Security-Policy" in page.headers
                async with aiohttp.ClientSession() as session:
                    response = await session.post(
                        f"{base}/api/v3/clients",
                        json={"name": "Kept"},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    assert response.status == 201
            else:
                status, body = await get(f"{base}/api/v3/clients", key)
                assert status == 200
                assert [c["name"] for c in body["items"]] == ["Kept"]  # type: ignore[index]
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)
        assert code == 0, log.read_text()[-3000:]
