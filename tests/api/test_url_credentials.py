"""Credentials in asset URLs: the download uses them, nothing recorded or shown holds them.

The "CDN" on 127.0.0.1 serves the image only to a request with the basic-auth password and both
signed query parameters, so a download succeeds only with the full URL. Postgres, NATS, the relay,
the projector and the real downloader run in-process.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import nats
import pytest
from aiohttp import web

from adpipe.api.keys import create_key
from adpipe.context import Core
from adpipe.replay.cli import run as replay
from adpipe.settings import load_settings
from testkit.media import jpeg_bytes
from testkit.stack import running_stack

from .conftest import Client, job_body, new_client, serving

# Distinctive values, so a match can only be a leak (a bare "T2" is in every ISO timestamp).
PASSWORD = "pw-Kq7v"
SIGNATURE = "SECRET-9f3a"
TOKEN = "T2-x8bd"
SECRETS = (PASSWORD, SIGNATURE, TOKEN)
IMAGE = jpeg_bytes((20, 120, 200))


@dataclass
class Cdn:
    port: int
    served: list[str] = field(default_factory=list)  # paths answered 200
    refused: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return (
            f"http://user:{PASSWORD}@127.0.0.1:{self.port}{path}"
            f"?X-Amz-Signature={SIGNATURE}&token={TOKEN}"
        )

    def shown(self, path: str) -> str:
        """The URL as the log and the API must show it."""
        return f"http://***@127.0.0.1:{self.port}{path}?X-Amz-Signature=***&token=***"


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    basic = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    state = Cdn(port=0)

    async def serve(request: web.Request) -> web.Response:
        signed = request.query.get("X-Amz-Signature") == SIGNATURE
        if request.headers.get("Authorization") != basic or not signed:
            state.refused.append(request.path)
            return web.Response(status=403, text="signature does not match")
        if request.query.get("token") != TOKEN:
            state.refused.append(request.path)
            return web.Response(status=403, text="bad token")
        if request.path != "/a.png":
            return web.Response(status=404, text="no such object")
        state.served.append(request.path)
        return web.Response(body=IMAGE, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield state
    finally:
        await runner.cleanup()


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def the_log(core: Core) -> str:
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT data::text, metadata::text FROM events ORDER BY position")
        rows = await cur.fetchall()
    assert rows
    return "\n".join(f"{data}\n{metadata}" for data, metadata in rows)


async def kept_urls(core: Core) -> list[tuple[str, str]]:
    async with core.pool.connection() as conn:
        cur = await conn.execute("SELECT kind, owner_id FROM url_secrets")
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def exported(database_url: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert await replay(["export", "--database-url", database_url], out=out, err=err) == 0
    assert out.getvalue()
    return out.getvalue()


async def published(nats_url: str, core: Core) -> str:
    """Every message the relay put on JetStream, once it has relayed the whole log."""
    last = await core.store.last_position()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        async with asyncio.timeout(20):
            while True:
                info = await js.stream_info("ADPIPE")
                if info.state.messages >= last:
                    break
                await asyncio.sleep(0.1)
        data = [
            (await js.get_msg("ADPIPE", seq)).data or b""
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await nc.close()
    return b"\n".join(data).decode()


async def until_asset(user: Client, asset_id: str, status: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            answer = await user.get(f"/api/v3/assets/{asset_id}")
            assert answer.status == 200, answer.body
            if answer.json()["status"] != "pending":
                assert answer.json()["status"] == status, answer.json()
                return dict(answer.json())
            await asyncio.sleep(0.1)


async def until_job(user: Client, job_id: str, status: str) -> Any:
    async with asyncio.timeout(30):
        while True:
            answer = await user.get(f"/api/v3/jobs/{job_id}")
            if answer.json()["status"] == status:
                return answer
            await asyncio.sleep(0.1)


async def sse_until(user: Client, job_id: str, last_type: str) -> str:
    """The job's event stream as text, read until an event of `last_type`."""
    headers = {"Authorization": f"Bearer {user.key}"}
    text = ""
    url = f"{user.base}/api/v3/jobs/{job_id}/events"
    async with user.session.get(url, headers=headers) as response, asyncio.timeout(20):
        assert response.status == 200
        async for line in response.content:
            text += line.decode()
            if line.decode().strip() == f"event: {last_type}":
                break
    return text


def stack_settings(database_url: str, nats_url: str) -> Any:
    return load_settings(
        {},
        database_url=database_url,
        nats_url=nats_url,
        allow_private_urls=True,  # the CDN is on 127.0.0.1
        storyboard_wait_seconds=5.0,
        download_retries=0,
    )


@pytest.mark.slow
async def test_a_job_asset_behind_credentials_is_fetched_with_them_and_never_shows_them(
    database_url: str, nats_url: str, cdn: Cdn, session: aiohttp.ClientSession
) -> None:
    settings = stack_settings(database_url, nats_url)
    async with running_stack(settings, ("downloader",)) as stack, serving(stack.core) as base:
        core = stack.core
        user = Client(session, base, await create_key(core.pool, "alice"))
        client_id = await new_client(user)
        body = job_body(client_id, assets=[{"url": cdn.url("/a.png"), "name": "Hero"}])
        created = await user.post("/api/v3/jobs", json=body, headers={"Prefer": "respond-async"})
        assert created.status == 202, created.body
        job_id = created.json()["id"]
        (asset,) = created.json()["assets"]
        ready = await until_asset(user, asset["id"], "ready")
        assert cdn.served == ["/a.png"] and cdn.refused == []
        assert (await user.get(ready["url"])).body == IMAGE
        assert ready["sourceUrl"] == cdn.shown("/a.png")

        job = await user.get(f"/api/v3/jobs/{job_id}")
        history = await user.get(f"/api/v3/jobs/{job_id}/history")
        assets = await user.get("/api/v3/assets")
        sse = await sse_until(user, job_id, "job.asset_downloaded")
        assert "job.asset_downloaded" in sse and cdn.shown("/a.png") in sse
        answers = [created.body, job.body, history.body, assets.body, sse.encode()]
        for answer in answers:
            assert leaked(answer.decode()) == [], answer
        assert cdn.shown("/a.png") in job.body.decode()

        log = await the_log(core)
        assert leaked(log) == []
        assert cdn.shown("/a.png") in log  # asset.registered, job.created, job.asset_downloaded
        assert leaked(await exported(database_url)) == []
        assert leaked(await published(nats_url, core)) == []
        # Stored: the full URL is not kept any longer.
        assert await kept_urls(core) == []


@pytest.mark.slow
async def test_a_standalone_asset_behind_credentials_is_fetched_with_them_and_never_shows_them(
    database_url: str, nats_url: str, cdn: Cdn, session: aiohttp.ClientSession
) -> None:
    settings = stack_settings(database_url, nats_url)
    async with running_stack(settings, ("downloader",)) as stack, serving(stack.core) as base:
        core = stack.core
        user = Client(session, base, await create_key(core.pool, "alice"))
        created = await user.post("/api/v3/assets", json={"url": cdn.url("/a.png")})
        assert created.status == 201, created.body
        assert created.json()["sourceUrl"] == cdn.shown("/a.png")
        ready = await until_asset(user, created.json()["id"], "ready")
        assert cdn.served == ["/a.png"]
        listed = await user.get("/api/v3/assets")
        for answer in (created.body, listed.body, str(ready).encode()):
            assert leaked(answer.decode()) == []
        assert leaked(await the_log(core)) == []
        assert leaked(await exported(database_url)) == []
        assert leaked(await published(nats_url, core)) == []
        assert await kept_urls(core) == []


@pytest.mark.slow
async def test_a_failed_download_names_the_url_without_its_credentials(
    database_url: str, nats_url: str, cdn: Cdn, session: aiohttp.ClientSession
) -> None:
    settings = stack_settings(database_url, nats_url)
    async with running_stack(settings, ("downloader",)) as stack, serving(stack.core) as base:
        core = stack.core
        user = Client(session, base, await create_key(core.pool, "alice"))
        created = await user.post(
            "/api/v3/assets", json={"url": cdn.url("/missing.png"), "type": "image"}
        )
        assert created.status == 201, created.body
        failed = await until_asset(user, created.json()["id"], "failed")
        message = failed["error"]["message"]
        assert cdn.shown("/missing.png") in message and "404" in message, message
        # A job whose asset fails is failed naming it, redacted too.
        client_id = await new_client(user)
        body = job_body(client_id, assets=[{"url": cdn.url("/gone.png")}])
        job = await user.post("/api/v3/jobs", json=body, headers={"Prefer": "respond-async"})
        assert job.status == 202, job.body
        seen = await until_job(user, job.json()["id"], "failed")
        assert cdn.shown("/gone.png") in seen.body.decode()
        assert leaked(seen.body.decode()) == [] and leaked(message) == []
        assert leaked(await the_log(core)) == []
        # Failed for good: nothing is kept for either asset.
        assert await kept_urls(core) == []
