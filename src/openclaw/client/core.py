"""What the sync and async clients share, with no I/O: connect params, matching
responses (with ``expect_final``) and turning failures into the project's errors."""

from __future__ import annotations

import os
import sys

from openclaw import PROTOCOL_VERSION, __version__
from openclaw.errors import AuthError, GatewayUnreachable, OpenClawError, RequestError

TYPE_CHECKING = False  # typing, dataclasses, uuid cost import time on the CLI path
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "ALL_SCOPES",
    "INTERIM_STATUSES",
    "auth_hint",
    "connect_params",
    "handshake_error",
    "is_interim",
    "new_id",
]

ALL_SCOPES = ("operator.read", "operator.write", "operator.admin")
#: A response with one of these ``payload.status`` values is not the final answer of
#: a two-stage method (``agent``): clients waiting with ``expect_final`` skip it.
INTERIM_STATUSES = frozenset({"accepted", "in_flight"})

CLOSE_HINTS = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1006: "abnormal closure (no close frame)",
    1007: "invalid frame data",
    1008: "policy violation",
    1009: "message too big",
    1011: "server error",
    1012: "service restart",
    4000: "tick timeout",
}


def new_id() -> str:
    """A fresh random request id (128 bits, hex)."""
    return os.urandom(16).hex()


def connect_params(
    *,
    token: str | None = None,
    password: str | None = None,
    client_id: str = "cli",
    mode: str = "cli",
    scopes: tuple[str, ...] | list[str] | None = ALL_SCOPES,
    instance_id: str | None = None,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Build ``connect`` params for an operator client using the shared secret."""
    client: dict[str, Any] = {
        "id": client_id,
        "version": __version__,
        "platform": sys.platform,
        "mode": mode,
        "instanceId": instance_id or f"{client_id}-{os.getpid()}-{os.urandom(3).hex()}",
    }
    if display_name:
        client["displayName"] = display_name
    params: dict[str, Any] = {
        "minProtocol": 3,
        "maxProtocol": PROTOCOL_VERSION,
        "client": client,
        "role": "operator",
        "caps": [],
        "userAgent": f"openclaw-python/{__version__}",
    }
    if scopes is not None:
        params["scopes"] = list(scopes)
    auth = {k: v for k, v in (("token", token), ("password", password)) if v}
    if auth:
        params["auth"] = auth
    return params


def is_interim(payload: Any) -> bool:
    """True for the ``accepted``/``in_flight`` first answer of a two-stage method."""
    return isinstance(payload, dict) and payload.get("status") in INTERIM_STATUSES


_TOKEN_PLACES = {
    "--token": "--token",
    "OPENCLAW_GATEWAY_TOKEN": "OPENCLAW_GATEWAY_TOKEN",
    "service-env": "OPENCLAW_GATEWAY_TOKEN in the service env file",
    "gateway.auth.token": "gateway.auth.token in the config",
}


def auth_hint(
    code: str,
    *,
    explicit_url: bool = False,
    token_source: str | None = None,
    token_file: str | None = None,
) -> str:
    """What to do about an ``AUTH_*`` refusal, saying only what is true for this client.

    With an explicit URL (``explicit_url``) only ``--token``/``--password`` are sent,
    so the environment is not suggested. ``token_source`` is where the refused
    token came from (``--token``, ``OPENCLAW_GATEWAY_TOKEN``, ``service-env``,
    ``gateway.auth.token`` or ``token-file``, the generated ``token_file``).
    """
    if code == "AUTH_TOKEN_MISSING":
        if explicit_url:
            return "pass --token (with --url, stored credentials are not used)"
        return "pass --token or set OPENCLAW_GATEWAY_TOKEN"
    if code == "AUTH_TOKEN_MISMATCH":
        if explicit_url:
            return "check --token (with --url, stored credentials are not used)"
        if token_source == "token-file":
            where = token_file or "the generated token file"
            return (f"the CLI sent the generated token from {where}, but the gateway was "
                    "started with another one (its OPENCLAW_GATEWAY_TOKEN or "
                    "gateway.auth.token, or an older file): pass --token, or restart it")
        place = _TOKEN_PLACES.get(token_source or "")
        if place:
            return f"the token from {place} differs from the gateway's; check it"
        return ("the token differs from the gateway's; check --token, "
                "OPENCLAW_GATEWAY_TOKEN and gateway.auth.token")
    if code == "AUTH_PASSWORD_MISSING":
        if explicit_url:
            return "pass --password (with --url, stored credentials are not used)"
        return "pass --password or set OPENCLAW_GATEWAY_PASSWORD"
    if code == "AUTH_PASSWORD_MISMATCH":
        return "the password differs from the gateway's"
    if code == "AUTH_RATE_LIMITED":
        return "too many failures from this address; wait and retry"
    return "check the gateway's auth settings"


def handshake_error(url: str, error: Any) -> OpenClawError:
    """Turn a ``connect`` error object into the error the caller should see.

    An auth refusal is an :class:`AuthError` whose ``hint`` is the generic
    :func:`auth_hint`; a caller that knows where its secret came from (the CLI)
    may replace it with a more precise one.
    """
    failure = RequestError.from_wire(error)
    code = (failure.details or {}).get("code", "")
    if isinstance(code, str) and code.startswith("AUTH_"):
        return AuthError(
            f"gateway at {url} refused the credentials ({failure.message})",
            details=failure.details, retry_after_ms=failure.retry_after_ms,
            hint=auth_hint(code),
        )
    return RequestError(
        failure.code, f"gateway at {url} refused the connection: {failure.message}",
        details=failure.details,
    )


def closed_error(url: str, code: int | None, reason: str, during: str) -> GatewayUnreachable:
    """The error for a connection that closed ``during`` a handshake or a request."""
    hint = CLOSE_HINTS.get(code or 1006, "")
    label = f"{code} {hint}".strip() if code else "no close frame"
    text = f": {reason}" if reason else ""
    return GatewayUnreachable(f"gateway at {url} closed the connection {during} ({label}){text}")
