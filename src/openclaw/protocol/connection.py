"""Per-connection protocol state machine: challenge → connect → open → closed.

Sans-I/O: :meth:`ServerConnection.receive` takes one inbound frame and returns the
actions the I/O layer must carry out, in order (send these bytes, close with this
code, a client was accepted, dispatch this request). Every row of the handshake
failure table in ``docs/protocol.md`` is decided here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from openclaw import PROTOCOL_VERSION
from openclaw.protocol.auth import Authenticator, AuthFailure, AuthGrant, is_loopback
from openclaw.protocol.errors import INVALID_REQUEST, error_object
from openclaw.protocol.frames import (
    ConnectParams,
    FrameError,
    ParamsError,
    RequestFrame,
    convert_params,
    encode,
    encode_response,
    parse_frame,
)
from openclaw.protocol.origin import (
    ORIGIN_NOT_ALLOWED_CODE,
    ORIGIN_NOT_ALLOWED_MESSAGE,
    OriginVerdict,
    check_origin,
)

__all__ = [
    "CLOSE_INVALID_DATA",
    "CLOSE_POLICY",
    "CLOSE_PROTOCOL",
    "CLOSE_SERVICE_RESTART",
    "CLOSE_TOO_BIG",
    "Accepted",
    "Action",
    "CloseConnection",
    "Dispatch",
    "SendFrame",
    "ServerConnection",
    "State",
]

CLOSE_PROTOCOL = 1002
CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012


class State(enum.Enum):
    """Where a connection is in its life."""

    AWAITING_CONNECT = "awaiting-connect"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SendFrame:
    """Send this text frame (already encoded JSON)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close the WebSocket with this code and reason."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The handshake succeeded: answer ``request_id`` with ``hello-ok``."""

    request_id: str
    params: ConnectParams
    grant: AuthGrant


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Run this request's method and answer it."""

    request: RequestFrame


Action = SendFrame | CloseConnection | Accepted | Dispatch


def _short(reason: str) -> str:
    """Close reasons must fit in 123 bytes of UTF-8."""
    data = reason.encode("utf-8")
    if len(data) <= 123:
        return reason
    return data[:120].decode("utf-8", "ignore") + "..."


class ServerConnection:
    """The gateway side of one client connection.

    Args:
        authenticator: shared checker of credentials and failure rate limit.
        remote_address: the peer's IP address (rate limit key).
        nonce: the ``connect.challenge`` nonce for this connection.
        now_ms: wall-clock milliseconds when the connection opened.
        origin: the upgrade's ``Origin`` header; a browser sent it. ``None`` (or empty)
            for other clients, which skip the origin check.
        host: the upgrade's ``Host`` header (the gateway's address as the page saw it).
        allowed_origins: ``gateway.controlUi.allowedOrigins``.
    """

    def __init__(
        self,
        authenticator: Authenticator,
        remote_address: str,
        *,
        nonce: str,
        now_ms: int,
        origin: str | None = None,
        host: str | None = None,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        self.authenticator = authenticator
        self.remote_address = remote_address
        self.origin = origin.strip() if origin else None
        self.host = host
        self.allowed_origins = allowed_origins
        #: the origin check's decision, once ``connect`` got that far (browsers only)
        self.origin_verdict: OriginVerdict | None = None
        self.nonce = nonce
        self.opened_at_ms = now_ms
        self.state = State.AWAITING_CONNECT
        self.params: ConnectParams | None = None
        self.grant: AuthGrant | None = None

    def challenge(self) -> bytes:
        """The first frame the server sends."""
        return encode(
            {
                "type": "event",
                "event": "connect.challenge",
                "payload": {"nonce": self.nonce, "ts": self.opened_at_ms},
            }
        )

    def handshake_timeout(self) -> list[Action]:
        """The handshake timer fired before a successful ``connect``."""
        if self.state is not State.AWAITING_CONNECT:
            return []
        return self._close(CLOSE_POLICY, "handshake timeout")

    def receive(self, data: str | bytes) -> list[Action]:
        """Handle one inbound frame (``str`` for text, ``bytes`` for binary)."""
        if self.state is State.CLOSED:
            return []
        if isinstance(data, bytes):
            return self._close(CLOSE_UNSUPPORTED, "binary frames are not supported; send JSON text")
        if self.state is State.AWAITING_CONNECT:
            return self._receive_connect(data)
        return self._receive_open(data)

    def _close(self, code: int, reason: str, *before: Action) -> list[Action]:
        self.state = State.CLOSED
        return [*before, CloseConnection(code, _short(reason))]

    def _frame_error(self, exc: FrameError) -> list[Action]:
        if exc.too_big:
            return self._close(CLOSE_TOO_BIG, exc.reason)
        return self._close(CLOSE_INVALID_DATA, f"invalid frame: {exc.reason}")

    def _fail(
        self,
        request_id: str,
        code: int,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after_ms: int | None = None,
    ) -> list[Action]:
        error = error_object(INVALID_REQUEST, message, details)
        if retry_after_ms is not None:
            error["retryable"] = True
            error["retryAfterMs"] = retry_after_ms
        reply = SendFrame(encode_response(request_id, False, error=error))
        return self._close(code, message, reply)

    def _receive_connect(self, data: str) -> list[Action]:
        try:
            request = parse_frame(data)
        except FrameError as exc:
            if exc.request_id is not None:
                return self._fail(exc.request_id, CLOSE_POLICY, f"invalid handshake: {exc.reason}")
            return self._frame_error(exc)
        if request is None:
            return self._close(
                CLOSE_POLICY, "invalid handshake: first frame must be a connect request"
            )
        if request.method != "connect":
            return self._fail(
                request.id, CLOSE_POLICY, "invalid handshake: first request must be connect"
            )
        try:
            params = convert_params(request.params, ConnectParams)
        except ParamsError as exc:
            return self._fail(request.id, CLOSE_POLICY, f"invalid connect params: {exc}")
        if not params.min_protocol <= PROTOCOL_VERSION <= params.max_protocol:
            return self._fail(
                request.id,
                CLOSE_PROTOCOL,
                "protocol mismatch",
                {
                    "code": "PROTOCOL_MISMATCH",
                    "clientMinProtocol": params.min_protocol,
                    "clientMaxProtocol": params.max_protocol,
                    "expectedProtocol": PROTOCOL_VERSION,
                },
            )
        if params.role != "operator":
            return self._fail(
                request.id,
                CLOSE_POLICY,
                f"role {params.role!r} is not supported by this gateway (use operator)",
            )
        if self.origin:  # a browser: its page's origin is checked before any credential
            verdict = self.origin_verdict = check_origin(
                self.origin,
                host=self.host,
                allowed_origins=self.allowed_origins,
                peer_is_loopback=is_loopback(self.remote_address),
            )
            if not verdict.ok:
                return self._fail(
                    request.id,
                    CLOSE_POLICY,
                    ORIGIN_NOT_ALLOWED_MESSAGE,
                    {"code": ORIGIN_NOT_ALLOWED_CODE, "reason": verdict.reason},
                )
        outcome = self.authenticator.authenticate(
            params.auth, self.remote_address, params.role, params.scopes
        )
        if isinstance(outcome, AuthFailure):
            return self._fail(
                request.id, CLOSE_POLICY, outcome.message, outcome.details, outcome.retry_after_ms
            )
        self.state = State.OPEN
        self.params = params
        self.grant = outcome
        return [Accepted(request.id, params, outcome)]

    def _receive_open(self, data: str) -> list[Action]:
        try:
            request = parse_frame(data)
        except FrameError as exc:
            if exc.request_id is not None:
                error = error_object(INVALID_REQUEST, f"invalid request frame: {exc.reason}")
                return [SendFrame(encode_response(exc.request_id, False, error=error))]
            return self._frame_error(exc)
        if request is None:
            return []
        if request.method == "connect":
            error = error_object(INVALID_REQUEST, "already connected: connect is only valid once")
            return [SendFrame(encode_response(request.id, False, error=error))]
        return [Dispatch(request)]
