"""The ``hello-ok`` payload: what a client learns when its handshake succeeds.

Pure: the gateway hands in what it knows (its identity, methods and events, the
snapshot, the grant and the connection policy) and gets the payload back, so the
shape is tested without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openclaw import PROTOCOL_VERSION

__all__ = ["Policy", "ServerInfo", "build_hello"]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who answered: version, connection id, boot id and host name."""

    version: str
    conn_id: str
    boot_id: str
    host: str


@dataclass(frozen=True, slots=True)
class Policy:
    """Limits the client must respect and the tick it can expect."""

    max_payload: int
    max_buffered_bytes: int
    tick_interval_ms: int


def build_hello(server: ServerInfo, methods: list[str], events: list[str],
                snapshot: dict[str, Any], auth: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """The ``hello-ok`` payload of protocol 4."""
    return {
        "type": "hello-ok",
        "protocol": PROTOCOL_VERSION,
        "server": {"version": server.version, "connId": server.conn_id,
                   "bootId": server.boot_id, "host": server.host},
        "features": {"methods": methods, "events": events},
        "snapshot": snapshot,
        "auth": auth,
        "policy": {"maxPayload": policy.max_payload,
                   "maxBufferedBytes": policy.max_buffered_bytes,
                   "tickIntervalMs": policy.tick_interval_ms},
    }
