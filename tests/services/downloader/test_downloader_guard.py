"""The SSRF guard's decisions, made against a stub resolver: nothing here opens a connection."""

from __future__ import annotations

import socket

import pytest

from adpipe.services.downloader.engine import (
    DownloadError,
    SystemResolver,
    UrlGuard,
    UrlRefused,
    address_class,
)


class StubResolver:
    """Answers from a table; a name not in it fails the test."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


class FailingResolver:
    def __init__(self, error: OSError) -> None:
        self.error = error

    async def resolve(self, host: str, port: int) -> list[str]:
        raise self.error


REFUSED = [
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("169.254.1.1", "link-local"),
    ("100.64.0.1", "shared"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("::ffff:10.0.0.1", "IPv6 form of a private"),
    ("::ffff:127.0.0.1", "IPv6 form of a loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("2002:7f00:1::", "IPv6 form of a loopback"),  # 6to4
    ("64:ff9b::a00:5", "IPv6 form of a private"),  # NAT64
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "special-purpose"),  # documentation range
    ("198.18.0.1", "special-purpose"),  # benchmarking range
    ("2001:db8::1", "special-purpose"),
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_classified(address: str, kind: str) -> None:
    reason = address_class(address)
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_have_no_class(address: str) -> None:
    assert address_class(address) is None


@pytest.mark.parametrize(("address", "kind"), REFUSED)
async def test_a_name_resolving_to_a_non_public_address_is_refused(address: str, kind: str) -> None:
    guard = UrlGuard(allow_private=False, resolver=StubResolver({"cdn.example.test": [address]}))
    with pytest.raises(UrlRefused) as refused:
        await guard.resolve("cdn.example.test", 443)
    assert refused.value.code == "ssrf_refused"
    assert refused.value.transient is False
    # The message names the host and the class of address, never the address it resolved to.
    assert "cdn.example.test" in refused.value.detail
    assert address not in refused.value.detail
    assert kind in refused.value.detail


@pytest.mark.parametrize(("address", "kind"), REFUSED)
async def test_an_address_literal_is_judged_without_the_resolver(address: str, kind: str) -> None:
    resolver = StubResolver({})
    guard = UrlGuard(allow_private=False, resolver=resolver)
    with pytest.raises(UrlRefused, match=kind):
        await guard.check_url(f"http://[{address}]/" if ":" in address else f"http://{address}/")
    assert resolver.asked == []


@pytest.mark.parametrize("address", PUBLIC)
async def test_a_name_resolving_to_a_public_address_is_accepted(address: str) -> None:
    guard = UrlGuard(allow_private=False, resolver=StubResolver({"cdn.example.test": [address]}))
    assert await guard.resolve("cdn.example.test", 443) == [address]


async def test_one_internal_answer_among_public_ones_refuses_the_host() -> None:
    answers = {"mixed.example.test": ["93.184.216.34", "10.0.0.5"]}
    guard = UrlGuard(allow_private=False, resolver=StubResolver(answers))
    with pytest.raises(UrlRefused, match=r"resolves to a private address") as refused:
        await guard.resolve("mixed.example.test", 80)
    assert "10.0.0.5" not in refused.value.detail  # the network's layout stays private


async def test_allow_private_lifts_the_address_checks_but_not_for_cloud_metadata() -> None:
    answers = {
        "intranet.test": ["10.0.0.5"],
        "imds.test": ["169.254.169.254"],
        "imds6.test": ["fd00:ec2::254"],
        "mapped.test": ["10.0.0.5", "::ffff:169.254.169.254"],
    }
    guard = UrlGuard(allow_private=True, resolver=StubResolver(answers))
    assert await guard.resolve("intranet.test", 80) == ["10.0.0.5"]
    assert await guard.resolve("127.0.0.1", 80) == ["127.0.0.1"]
    for host in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254", "::ffff:169.254.169.254"):
        with pytest.raises(UrlRefused, match="cloud metadata"):
            await guard.resolve(host, 80)
    for host in ("imds.test", "imds6.test", "mapped.test"):
        with pytest.raises(UrlRefused, match="resolves to a cloud metadata address") as refused:
            await guard.resolve(host, 80)
        assert "169.254" not in refused.value.detail and "fd00" not in refused.value.detail


async def test_allow_private_still_allows_only_http_and_https() -> None:
    guard = UrlGuard(allow_private=True, resolver=StubResolver({}))
    with pytest.raises(UrlRefused) as refused:
        await guard.check_url("file:///etc/passwd")
    assert refused.value.code == "unsupported_scheme"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://cdn.example.test/a.jpg",
        "file:///etc/passwd",
        "gopher://cdn.example.test/",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//cdn.example.test/a.jpg",
        "cdn.example.test/a.jpg",
    ],
)
def test_only_http_and_https_urls_pass_the_scheme_check(url: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        UrlGuard(allow_private=False).check_scheme(url)
    assert refused.value.code == "unsupported_scheme"
    assert "http and https" in refused.value.detail


def test_http_and_https_urls_pass_the_scheme_check() -> None:
    guard = UrlGuard(allow_private=False)
    assert guard.check_scheme("https://cdn.example.test/a.jpg").host == "cdn.example.test"
    assert guard.check_scheme("HTTP://cdn.example.test:8080/a.jpg").port == 8080


def test_a_url_without_a_host_is_refused() -> None:
    with pytest.raises(UrlRefused) as refused:
        UrlGuard(allow_private=False).check_scheme("http:///a.jpg")
    assert refused.value.code == "invalid_url"


async def test_trusted_addresses_apply_to_resolver_answers_but_not_to_literals() -> None:
    guard = UrlGuard(
        allow_private=False,
        resolver=StubResolver({"public.test": ["127.0.0.1"]}),
        trusted_addresses=frozenset({"127.0.0.1"}),
    )
    assert await guard.resolve("public.test", 80) == ["127.0.0.1"]
    with pytest.raises(UrlRefused, match="loopback"):
        await guard.resolve("127.0.0.1", 80)


async def test_an_unknown_name_fails_for_good() -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    guard = UrlGuard(allow_private=False, resolver=FailingResolver(error))
    with pytest.raises(DownloadError) as failed:
        await guard.resolve("nowhere.example.test", 80)
    assert failed.value.code == "dns_error"
    assert failed.value.transient is False
    assert "nowhere.example.test" in failed.value.detail


async def test_a_resolver_hiccup_is_transient() -> None:
    error = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    guard = UrlGuard(allow_private=False, resolver=FailingResolver(error))
    with pytest.raises(DownloadError) as failed:
        await guard.resolve("flaky-dns.example.test", 80)
    assert failed.value.transient is True


async def test_the_system_resolver_is_the_default_and_localhost_is_refused() -> None:
    # localhost comes from /etc/hosts: no DNS traffic leaves the machine.
    assert set(await SystemResolver().resolve("localhost", 80)) <= {"127.0.0.1", "::1"}
    with pytest.raises(UrlRefused, match=r"localhost: it resolves to .*loopback"):
        await UrlGuard(allow_private=False).check_url("http://localhost:8080/a.jpg")
