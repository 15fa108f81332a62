"""Browser origin policy for WebSocket upgrades.

A web page on any site can open a WebSocket to ``ws://127.0.0.1:18789``; the
browser then sends that page's ``Origin`` header. Without a check, a page on a
foreign site could try tokens against the gateway or drive it with a token it
learned. The rules follow OpenClaw's gateway:

- no ``Origin`` header (or an empty one): not a browser, not checked;
- an origin listed in ``gateway.controlUi.allowedOrigins`` (or ``"*"`` there): allowed;
- the gateway's own origin (the ``Origin`` host:port equals the ``Host`` header) when
  that host is loopback (and the peer is local), a private or link-local IP address,
  or a ``.local`` / ``.ts.net`` name: allowed. A public name is not trusted this way,
  since DNS rebinding can make a foreign site "same-origin";
- a loopback origin (``localhost``, ``127.x.x.x``, ``[::1]``, any port) when the peer
  itself connects from a loopback address: allowed;
- anything else, including ``null`` and malformed origins: refused.

Pure functions only: the I/O layer passes the headers and the peer address in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "ORIGIN_NOT_ALLOWED_CODE",
    "ORIGIN_NOT_ALLOWED_MESSAGE",
    "OriginVerdict",
    "check_origin",
    "is_loopback_host",
    "parse_origin",
]

#: ``error.details.code`` of a refused browser origin (OpenClaw's name).
ORIGIN_NOT_ALLOWED_CODE = "CONTROL_UI_ORIGIN_NOT_ALLOWED"
ORIGIN_NOT_ALLOWED_MESSAGE = (
    "origin not allowed (open the Control UI from the gateway host or allow it in "
    "gateway.controlUi.allowedOrigins)"
)

MatchedBy = Literal["allowlist", "private-same-origin", "local-loopback"]
# scheme://host[:port] with an optional trailing slash and nothing else
_ORIGIN_SHAPE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\\]+/?$", re.IGNORECASE)
# RFC 1918, link-local, Tailscale's CGNAT range, IPv6 unique-local and link-local
# (ipaddress' is_private would also take documentation and benchmark ranges)
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                "100.64.0.0/10", "fc00::/7", "fe80::/10")
)


@dataclass(frozen=True, slots=True)
class ParsedOrigin:
    """An origin split into what the policy compares (all lower case)."""

    origin: str  #: ``scheme://host[:port]``, the default port left out
    hostname: str  #: the host without port or IPv6 brackets
    port: int  #: explicit, or the scheme's default (0 for schemes without one)


@dataclass(frozen=True, slots=True)
class OriginVerdict:
    """The decision for one upgrade: ``ok``, and why (``matched_by`` or ``reason``)."""

    ok: bool
    matched_by: MatchedBy | None = None
    reason: str | None = None


def parse_origin(raw: str | None) -> ParsedOrigin | None:
    """Split an ``Origin`` header value; ``None`` when it is missing, ``null`` or malformed."""
    value = (raw or "").strip()
    if not value or value == "null" or not _ORIGIN_SHAPE.match(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    hostname = parts.hostname.lower()
    default = _DEFAULT_PORTS.get(scheme, 0)
    shown = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and port != default:
        shown = f"{shown}:{port}"
    return ParsedOrigin(f"{scheme}://{shown}", hostname, default if port is None else port)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split_host_header(host: str | None) -> tuple[str, int | None] | None:
    """``Host`` header → (lower-case hostname, port or None); None when unusable."""
    value = (host or "").strip().lower()
    try:
        parts = urlsplit(f"//{value}")
        port = parts.port
    except ValueError:
        return None
    if not value or not parts.hostname or parts.username is not None:
        return None
    return parts.hostname, port


def _ip(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback_host(hostname: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``), 127.0.0.0/8 and ``::1``."""
    name = hostname.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip(name)
    return address is not None and address.is_loopback


def _trusted_same_origin_host(hostname: str, peer_is_loopback: bool) -> bool:
    if is_loopback_host(hostname):
        return peer_is_loopback
    address = _ip(hostname)
    if address is not None:
        return any(address in network for network in _PRIVATE)
    return hostname.endswith(".local") or hostname.endswith(".ts.net")


def _allowlist_key(entry: str) -> str:
    parsed = parse_origin(entry)
    return parsed.origin if parsed is not None else entry.strip().lower()


def check_origin(
    origin: str,
    *,
    host: str | None,
    allowed_origins: Iterable[str],
    peer_is_loopback: bool,
) -> OriginVerdict:
    """Decide whether a browser page from ``origin`` may use this gateway.

    Args:
        origin: the upgrade's ``Origin`` header (only call this when one was sent).
        host: the upgrade's ``Host`` header: the gateway's address as the page saw it.
        allowed_origins: ``gateway.controlUi.allowedOrigins``.
        peer_is_loopback: whether the TCP peer is a loopback address.
    """
    parsed = parse_origin(origin)
    if parsed is None:
        return OriginVerdict(False, reason="origin missing or invalid")
    allowlist = {_allowlist_key(entry) for entry in allowed_origins}
    if "*" in allowlist or parsed.origin in allowlist:
        return OriginVerdict(True, matched_by="allowlist")
    request_host = _split_host_header(host)
    if request_host is not None:
        hostname, port = request_host
        # a Host header without a port means the default port of the page's scheme
        same = hostname == parsed.hostname and (port or parsed.port) == parsed.port
        if same and _trusted_same_origin_host(hostname, peer_is_loopback):
            return OriginVerdict(True, matched_by="private-same-origin")
    if peer_is_loopback and is_loopback_host(parsed.hostname):
        return OriginVerdict(True, matched_by="local-loopback")
    return OriginVerdict(False, reason="origin not allowed")
