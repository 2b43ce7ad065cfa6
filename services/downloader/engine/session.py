"""The aiohttp session downloads run on: its connector resolves every host through the URL guard.

Checking a name and then letting the connector resolve it again would leave a DNS-rebinding gap
(public on the check, internal on the connect); here the check and the connect use one answer.
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from adpipe.net.guard import UrlGuard
from adpipe.services.downloader.engine.limits import DownloadLimits

USER_AGENT = "adpipe-downloader/0.1"


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that answers only with addresses the guard accepts (else UrlRefused)."""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results: list[ResolveResult] = []
        for address in await self._guard.resolve(host, port):
            found = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, found):
                continue
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": found,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not results:
            raise OSError(f"{host} has no address of the requested family")
        return results

    async def close(self) -> None:
        return None


def make_session(guard: UrlGuard, limits: DownloadLimits) -> aiohttp.ClientSession:
    """A session for `fetch_to_file`; the caller closes it (`async with make_session(...)`)."""
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(guard),
        # Cached answers would skip the guard's resolver on later connections; it is cheap.
        use_dns_cache=False,
        limit=32,
    )
    return aiohttp.ClientSession(
        connector=connector,
        # Proxy variables would send the request somewhere the guard never looked at.
        trust_env=False,
        # Downloads for different users must not share cookies.
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
        ),
        # identity: a gzip body would be inflated past Content-Length; the size cap counts
        # decoded bytes anyway, but asking for none keeps the byte counts honest.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )
