"""`adpipe.net.redact`: no credential of a URL survives, and nothing else of it changes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpipe.net.redact import (
    MASK,
    SECRET_PARAMETERS,
    has_credentials,
    redact_text,
    redact_url,
)

# Secrets are upper case and digits behind a "Z", everything else of a URL lower case: a secret
# found in the output can only be one that survived.
SECRET = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%", min_size=3, max_size=30).map(
    lambda s: "Z" + s
)
PLAIN = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)
HOST = st.one_of(
    st.lists(PLAIN.filter(lambda s: s.isalnum()), min_size=1, max_size=3).map(".".join),
    st.just("127.0.0.1"),
    st.just("[::1]"),
)
PATH = st.lists(PLAIN, max_size=4).map(lambda parts: "".join("/" + p for p in parts))
# Secret names in any case mix, as users and clouds write them.
SECRET_NAME = st.sampled_from(sorted(SECRET_PARAMETERS)).flatmap(
    lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda ups: "".join(c.upper() if u else c for c, u in zip(name, ups, strict=True))
    )
)
PLAIN_NAME = PLAIN.filter(lambda n: n.lower() not in SECRET_PARAMETERS)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """(url, the url as it must come out, its secrets)."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    secrets: list[str] = []
    userinfo_in = userinfo_out = ""
    match draw(st.sampled_from(["none", "user", "user:pass", "empty-pass"])):
        case "user":
            user = draw(SECRET)
            secrets.append(user)
            userinfo_in, userinfo_out = user + "@", MASK + "@"
        case "user:pass":
            user, password = draw(SECRET), draw(SECRET)
            secrets += [user, password]
            userinfo_in, userinfo_out = f"{user}:{password}@", MASK + "@"
        case "empty-pass":
            user = draw(SECRET)
            secrets.append(user)
            userinfo_in, userinfo_out = f"{user}:@", MASK + "@"
    host = draw(HOST)
    port = draw(st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")))
    path = draw(PATH)
    params_in: list[str] = []
    params_out: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            name, value = draw(SECRET_NAME), draw(SECRET)
            secrets.append(value)
            params_in.append(f"{name}={value}")
            params_out.append(f"{name}={MASK}")
        else:
            name, value = draw(PLAIN_NAME), draw(st.one_of(st.just(""), PLAIN))
            params_in.append(f"{name}={value}")
            params_out.append(f"{name}={value}")
    query_in = "?" + "&".join(params_in) if params_in else ""
    query_out = "?" + "&".join(params_out) if params_out else ""
    fragment = draw(st.one_of(st.just(""), PLAIN.map(lambda f: "#" + f)))
    head = f"{scheme}://"
    url = f"{head}{userinfo_in}{host}{port}{path}{query_in}{fragment}"
    expected = f"{head}{userinfo_out}{host}{port}{path}{query_out}{fragment}"
    return url, expected, secrets


@given(urls())
def test_no_credential_survives_and_the_rest_is_unchanged(case: tuple[str, str, list[str]]) -> None:
    url, expected, secrets = case
    shown = redact_url(url)
    assert shown == expected
    for secret in secrets:
        assert secret not in shown
    assert has_credentials(url) == bool(secrets)
    assert redact_url(shown) == shown  # redacting twice changes nothing more


@given(urls(), st.text(" abc:()[]", max_size=10), st.text(" abc:()[]", max_size=10))
def test_urls_inside_a_message_are_redacted(
    case: tuple[str, str, list[str]], before: str, after: str
) -> None:
    url, expected, secrets = case
    message = f"{before} {url} {after}"
    shown = redact_text(message)
    assert shown == f"{before} {expected} {after}"
    for secret in secrets:
        assert secret not in shown


@given(st.text(max_size=200))
def test_any_text_without_a_url_is_left_alone(text: str) -> None:
    if "://" not in text:
        assert redact_text(text) == text
        assert redact_url(text) == text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://user:pw@cdn.example.com/a.jpg?X-Amz-Signature=abc",
            "https://***@cdn.example.com/a.jpg?X-Amz-Signature=***",
        ),
        (
            "https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIA%2F20240101&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900"
            "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok&X-Amz-Signature=f00d",
            "https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=***&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900"
            "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=***&X-Amz-Signature=***",
        ),
        (
            "https://storage.googleapis.com/b/o.png?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=beef",
            "https://storage.googleapis.com/b/o.png?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=***&X-Goog-Signature=***",
        ),
        (
            "https://acct.blob.core.windows.net/c/b.jpg?sv=2022-11-02&se=2030-01-01&sr=b&sp=r"
            "&sig=abc%3D",
            "https://acct.blob.core.windows.net/c/b.jpg?sv=***&se=***&sr=b&sp=***&sig=***",
        ),
        (
            "https://x.test/a?TOKEN=1&Api_Key=2&apikey=3&Secret=4&key=5&page=2",
            "https://x.test/a?TOKEN=***&Api_Key=***&apikey=***&Secret=***&key=***&page=2",
        ),
        ("https://x.test/a?%74oken=1", "https://x.test/a?%74oken=***"),  # an encoded name
        (
            "https://x.test/cb#access_token=abc&state=s",
            "https://x.test/cb#access_token=***&state=s",
        ),
        ("https://u:p%40ss@x.test:8443/", "https://***@x.test:8443/"),
        ("https://x.test/a@b?token", "https://x.test/a@b?token"),  # `@` in a path; no value
        ("https://x.test/a.jpg", "https://x.test/a.jpg"),
        ("not a url", "not a url"),
    ],
)
def test_known_forms(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_a_redacted_url_still_parses_with_the_same_parts() -> None:
    url = "https://alice:pw@cdn.example.com:8443/p/a.jpg?size=2&token=T2&sig=S#frag"
    shown = urlsplit(redact_url(url))
    original = urlsplit(url)
    assert (shown.scheme, shown.hostname, shown.port, shown.path, shown.fragment) == (
        original.scheme,
        original.hostname,
        original.port,
        original.path,
        original.fragment,
    )
    assert parse_qsl(shown.query) == [("size", "2"), ("token", MASK), ("sig", MASK)]
    assert shown.username == MASK and shown.password is None


def test_library_messages_quoting_a_url_are_redacted() -> None:
    message = "400, message='Bad Request', url=URL('https://u:pw@h.test/x?token=T2')"
    assert redact_text(message) == (
        "400, message='Bad Request', url=URL('https://***@h.test/x?token=***')"
    )
