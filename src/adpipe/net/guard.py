"""The SSRF guard: only http(s) URLs whose host resolves to public addresses may be fetched.

It is both the pre-flight check of every hop and the resolver of the download session's
connector (see `session.py`), so the address that was checked is the address connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

from yarl import URL

from adpipe.net.errors import DownloadError, UrlRefused
from adpipe.net.redact import redact_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Instance-metadata endpoints hand out cloud credentials; named separately so the refusal says so.
_CLOUD_METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean …
        "169.254.169.253",  # AWS VPC DNS
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Resolver(Protocol):
    """Turns a host name into the addresses a connection may go to."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), run off the event loop by asyncio."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form routes to (IPv4-mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _class_of(address: IPAddress) -> str | None:
    if address in _CLOUD_METADATA:
        return "a cloud metadata address"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if any(address in net for net in _PRIVATE):
        return "a private address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a private (site-local) address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        # Documentation, benchmarking, Teredo, ORCHIDv2 and the other special-purpose ranges.
        return "a special-purpose (non-public) address"
    return None


def address_class(address: str) -> str | None:
    """Why `address` may not be fetched from ("a private address", …), or None when public."""
    ip = ipaddress.ip_address(address)
    inner = _embedded_ipv4(ip)
    if inner is None:
        return _class_of(ip)
    inner_class = _class_of(inner)
    # The embedded address is not named: a refusal must not reveal what a name resolved to.
    return None if inner_class is None else f"an IPv6 form of {inner_class}"


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_cloud_metadata(address: str) -> bool:
    """Whether `address` (or the IPv4 address an IPv6 form of it routes to) hands out cloud
    credentials: refused even when private addresses are allowed for local testing."""
    ip = ipaddress.ip_address(address)
    return ip in _CLOUD_METADATA or _embedded_ipv4(ip) in _CLOUD_METADATA


class UrlGuard:
    """Decides whether a URL may be fetched; `allow_private=True` turns the address checks off,
    except for cloud metadata addresses, which are never fetched.

    Refusals name the host and the kind of address, never the address a name resolved to: an
    outsider must not learn the layout of the network behind us from our error texts.

    `trusted_addresses` are resolver answers that count as public. They exist for tests that
    fake a public host on loopback; a URL that names an address literally is always judged by
    the address itself.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        trusted_addresses: frozenset[str] = frozenset(),
    ) -> None:
        self.allow_private = allow_private
        self._resolver: Resolver = resolver or SystemResolver()
        self._trusted = trusted_addresses

    def check_scheme(self, url: str | URL) -> URL:
        """The parsed URL if it is absolute http(s) with a host; otherwise UrlRefused."""
        parsed = URL(url) if isinstance(url, str) else url
        quoted = redact_url(str(url))  # refusals never echo a credential
        if parsed.scheme not in ALLOWED_SCHEMES:
            shown = parsed.scheme or "no scheme"
            raise UrlRefused(
                f"only http and https URLs can be fetched, not {shown}: {quoted}",
                code="unsupported_scheme",
                url=quoted,
            )
        if not parsed.raw_host:
            raise UrlRefused(f"the URL has no host: {quoted}", code="invalid_url", url=quoted)
        return parsed

    async def check_url(self, url: str | URL) -> URL:
        """Check the scheme and the addresses of the URL's host; returns the parsed URL."""
        parsed = self.check_scheme(url)
        assert parsed.raw_host is not None and parsed.port is not None  # http(s) has defaults
        await self.resolve(parsed.raw_host, parsed.port)
        return parsed

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, or UrlRefused if any of them is not public."""
        literal = _ip_literal(host)
        if literal is not None:
            if self.allow_private and is_cloud_metadata(host):
                raise UrlRefused(f"refusing to fetch from {host}: it is a cloud metadata address")
            if not self.allow_private and (reason := address_class(host)) is not None:
                raise UrlRefused(f"refusing to fetch from {host}: it is {reason}")
            return [host]
        addresses = await self._lookup(host, port)
        if self.allow_private:
            if any(is_cloud_metadata(address) for address in addresses):
                raise UrlRefused(
                    f"refusing to fetch from {host}: it resolves to a cloud metadata address"
                )
            return addresses
        for address in addresses:
            if address in self._trusted:
                continue
            # One bad answer refuses the host: skipping it would let a name that mixes public
            # and internal addresses through on the next lookup.
            if (reason := address_class(address)) is not None:
                raise UrlRefused(f"refusing to fetch from {host}: it resolves to {reason}")
        return addresses

    async def _lookup(self, host: str, port: int) -> list[str]:
        try:
            addresses = await self._resolver.resolve(host, port)
        except socket.gaierror as exc:
            # "No such name" will not fix itself; other resolver failures (timeouts) may.
            permanent = exc.errno in {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)}
            raise DownloadError(
                f"could not resolve {host}: {exc.strerror or exc}",
                code="dns_error",
                transient=not permanent,
            ) from exc
        if not addresses:
            raise DownloadError(f"{host} has no addresses", code="dns_error", transient=False)
        return addresses
