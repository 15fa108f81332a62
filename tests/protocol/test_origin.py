"""Unit tests for openclaw.protocol.origin: the browser origin policy."""

from __future__ import annotations

import pytest

from openclaw.protocol.origin import OriginVerdict, check_origin, is_loopback_host, parse_origin


def check(origin: str, host: str | None = "127.0.0.1:18789", allowed: tuple[str, ...] = (),
          loopback_peer: bool = True) -> OriginVerdict:
    return check_origin(origin, host=host, allowed_origins=allowed, peer_is_loopback=loopback_peer)


@pytest.mark.parametrize(
    ("raw", "origin", "hostname", "port"),
    [
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173", "127.0.0.1", 5173),
        ("HTTPS://UI.Example.com:443/", "https://ui.example.com", "ui.example.com", 443),
        ("http://[::1]:8080", "http://[::1]:8080", "::1", 8080),
        ("http://localhost", "http://localhost", "localhost", 80),
        ("chrome-extension://abc", "chrome-extension://abc", "abc", 0),
    ],
)
def test_parse_origin(raw: str, origin: str, hostname: str, port: int) -> None:
    parsed = parse_origin(raw)
    assert parsed is not None
    assert (parsed.origin, parsed.hostname, parsed.port) == (origin, hostname, port)


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "null", "127.0.0.1:80", "http://", "http://a/b", "http://h?q", "http://u:p@h",
     "http://h:99999", "file:///etc/passwd", None],
)
def test_unusable_origins_parse_to_none(raw: str | None) -> None:
    assert parse_origin(raw) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "app.localhost", "127.0.0.1",
                                  "127.9.9.9", "::1", "[::1]", "::ffff:127.0.0.1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "localhost.example.com", "::2"])
def test_not_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:5173", "https://localhost:1", "http://[::1]:9", "http://127.0.0.1"],
)
def test_loopback_origin_from_a_loopback_peer_is_allowed(origin: str) -> None:
    assert check(origin, host="127.0.0.1:18789") == OriginVerdict(True, "local-loopback")


def test_loopback_origin_from_a_remote_peer_is_refused() -> None:
    # a page on the *remote* browser's own localhost is not this machine's
    verdict = check("http://localhost:5173", host="192.168.1.2:18789", loopback_peer=False)
    assert verdict == OriginVerdict(False, reason="origin not allowed")


def test_foreign_site_is_refused() -> None:
    assert check("https://evil.example") == OriginVerdict(False, reason="origin not allowed")


@pytest.mark.parametrize("origin", ["null", "garbage", "http://u:p@127.0.0.1"])
def test_invalid_origin_is_refused_with_its_own_reason(origin: str) -> None:
    assert check(origin) == OriginVerdict(False, reason="origin missing or invalid")


@pytest.mark.parametrize(
    ("origin", "host", "peer_loopback"),
    [
        ("http://192.168.1.10:18789", "192.168.1.10:18789", False),  # LAN address
        ("http://10.1.2.3:18789", "10.1.2.3:18789", False),
        ("http://100.101.102.103:18789", "100.101.102.103:18789", False),  # Tailnet
        ("http://box.local:18789", "box.local:18789", False),
        ("https://box.tail1234.ts.net", "box.tail1234.ts.net", False),  # default port
        ("https://box.tail1234.ts.net", "box.tail1234.ts.net:443", False),
        ("http://127.0.0.1:18789", "127.0.0.1:18789", True),
    ],
)
def test_private_same_origin_is_allowed(origin: str, host: str, peer_loopback: bool) -> None:
    verdict = check(origin, host=host, loopback_peer=peer_loopback)
    assert verdict.ok
    assert verdict.matched_by in ("private-same-origin", "local-loopback")


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        # DNS rebinding: a public name that resolves to the gateway is not trusted
        ("http://rebind.example:18789", "rebind.example:18789"),
        ("http://203.0.113.7:18789", "203.0.113.7:18789"),  # public IP
        ("http://192.168.1.10:8080", "192.168.1.10:18789"),  # other port
        ("https://box.local", "box.local:80"),  # other port (https default is 443)
        ("http://192.168.1.10:18789", None),  # no Host header
    ],
)
def test_untrusted_or_different_same_origin_is_refused(origin: str, host: str | None) -> None:
    assert not check(origin, host=host, loopback_peer=False).ok


def test_loopback_same_origin_needs_a_loopback_peer() -> None:
    verdict = check("http://127.0.0.1:18789", host="127.0.0.1:18789", loopback_peer=False)
    assert not verdict.ok


@pytest.mark.parametrize(
    "entry", ["https://ui.example.com", "HTTPS://UI.EXAMPLE.COM:443", "https://ui.example.com/"]
)
def test_allowlist_matches_normalised_origins(entry: str) -> None:
    verdict = check("https://ui.example.com", allowed=(entry,), loopback_peer=False)
    assert verdict == OriginVerdict(True, "allowlist")


def test_allowlist_is_exact() -> None:
    allowed = ("https://ui.example.com",)
    assert not check("https://ui.example.com:8443", allowed=allowed, loopback_peer=False).ok
    assert not check("http://ui.example.com", allowed=allowed, loopback_peer=False).ok
    assert not check("https://evil.ui.example.com", allowed=allowed, loopback_peer=False).ok


def test_wildcard_allows_any_valid_origin_but_not_an_invalid_one() -> None:
    assert check("https://anything.example", allowed=("*",), loopback_peer=False).ok
    assert not check("null", allowed=("*",)).ok
