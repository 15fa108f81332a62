"""Unit tests for openclaw.protocol.connection: the sans-I/O handshake state machine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openclaw import PROTOCOL_VERSION
from openclaw.protocol.auth import Authenticator, AuthGrant, RateLimit
from openclaw.protocol.connection import (
    CLOSE_INVALID_DATA,
    CLOSE_POLICY,
    CLOSE_PROTOCOL,
    Accepted,
    Action,
    CloseConnection,
    Dispatch,
    SendFrame,
    ServerConnection,
    State,
)
from openclaw.protocol.frames import RequestFrame

TOKEN = "the-gateway-token"
REMOTE = "203.0.113.5"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    mode: str = "token",
    address: str = REMOTE,
    authenticator: Authenticator | None = None,
) -> ServerConnection:
    auth = authenticator or Authenticator(mode, token=TOKEN, password="pw-1234")  # type: ignore[arg-type]
    return ServerConnection(auth, address, nonce="nonce-123", now_ms=1_700_000_000_000)


def connect_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "minProtocol": 3,
        "maxProtocol": 4,
        "client": {"id": "cli", "version": "0.1.0", "platform": "linux", "mode": "cli"},
        "auth": {"token": TOKEN},
    }
    params.update(overrides)
    return params


def connect_frame(request_id: str = "c1", **overrides: Any) -> str:
    params = connect_params(**overrides)
    return json.dumps({"type": "req", "id": request_id, "method": "connect", "params": params})


def request(request_id: str, method: str, params: Any = None) -> str:
    frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
    if params is not None:
        frame["params"] = params
    return json.dumps(frame)


def opened(**kwargs: Any) -> ServerConnection:
    conn = make(**kwargs)
    actions = conn.receive(connect_frame())
    assert len(actions) == 1 and isinstance(actions[0], Accepted)
    return conn


def unpack_failure(actions: list[Action]) -> tuple[dict[str, Any], CloseConnection]:
    """Expect exactly [SendFrame(error response), CloseConnection]."""
    assert len(actions) == 2, actions
    send, close = actions
    assert isinstance(send, SendFrame)
    assert isinstance(close, CloseConnection)
    return json.loads(send.data), close


def only_close(actions: list[Action]) -> CloseConnection:
    assert len(actions) == 1, actions
    assert isinstance(actions[0], CloseConnection)
    return actions[0]


def only_error(actions: list[Action]) -> dict[str, Any]:
    assert len(actions) == 1, actions
    assert isinstance(actions[0], SendFrame)
    return json.loads(actions[0].data)


# --- challenge -----------------------------------------------------------------------


def test_challenge_frame_shape() -> None:
    conn = make()
    assert conn.state is State.AWAITING_CONNECT
    assert json.loads(conn.challenge()) == {
        "type": "event",
        "event": "connect.challenge",
        "payload": {"nonce": "nonce-123", "ts": 1_700_000_000_000},
    }


def test_close_codes() -> None:
    assert (CLOSE_PROTOCOL, CLOSE_INVALID_DATA, CLOSE_POLICY) == (1002, 1007, 1008)


# --- successful handshake ------------------------------------------------------------


def test_connect_accepted() -> None:
    conn = make()
    actions = conn.receive(connect_frame("c-42"))
    assert len(actions) == 1
    accepted = actions[0]
    assert isinstance(accepted, Accepted)
    assert accepted.request_id == "c-42"
    assert accepted.params.client.id == "cli"
    assert accepted.grant == AuthGrant("token", "operator", ("operator.admin",))
    assert conn.state is State.OPEN
    assert conn.params == accepted.params
    assert conn.grant == accepted.grant


def test_connect_with_requested_scopes() -> None:
    conn = make()
    (accepted,) = conn.receive(connect_frame(scopes=["operator.read"]))
    assert isinstance(accepted, Accepted)
    assert accepted.grant.scopes == ("operator.read",)


def test_connect_in_none_mode_without_auth() -> None:
    conn = make("none")
    params = connect_params()
    del params["auth"]
    frame = json.dumps({"type": "req", "id": "c1", "method": "connect", "params": params})
    (accepted,) = conn.receive(frame)
    assert isinstance(accepted, Accepted)
    assert accepted.grant.method == "none"


@pytest.mark.parametrize(("low", "high"), [(4, 4), (1, 4), (4, 9), (3, 100)])
def test_protocol_ranges_including_4_are_accepted(low: int, high: int) -> None:
    (accepted,) = make().receive(connect_frame(minProtocol=low, maxProtocol=high))
    assert isinstance(accepted, Accepted)


def test_requests_after_open_are_dispatched() -> None:
    conn = opened()
    (action,) = conn.receive(request("r1", "health"))
    assert action == Dispatch(RequestFrame("r1", "health", {}))
    (action,) = conn.receive(request("r2", "logs.tail", {"limit": 5}))
    assert action == Dispatch(RequestFrame("r2", "logs.tail", {"limit": 5}))
    assert conn.state is State.OPEN


def test_handshake_timeout_after_open_does_nothing() -> None:
    conn = opened()
    assert conn.handshake_timeout() == []
    assert conn.state is State.OPEN


# --- handshake failures --------------------------------------------------------------


def test_first_request_not_connect() -> None:
    conn = make()
    response, close = unpack_failure(conn.receive(request("r1", "health")))
    assert response == {
        "type": "res",
        "id": "r1",
        "ok": False,
        "error": {
            "code": "INVALID_REQUEST",
            "message": "invalid handshake: first request must be connect",
        },
    }
    assert close == CloseConnection(1008, "invalid handshake: first request must be connect")
    assert conn.state is State.CLOSED


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        "",
        "[1, 2]",
        '"a string"',
        "42",
        json.dumps({"type": "hello", "id": "c1", "method": "connect"}),
        json.dumps({"id": "c1", "method": "connect"}),
        json.dumps({"type": "req", "id": "", "method": "connect"}),
        json.dumps({"type": "req", "id": 7, "method": "connect"}),
    ],
)
def test_unusable_frames_close_1007_without_response(data: str) -> None:
    conn = make()
    close = only_close(conn.receive(data))
    assert close.code == 1007
    assert close.reason.startswith("invalid frame: ")
    assert conn.state is State.CLOSED


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "res", "id": "x", "ok": True},
        {"type": "event", "event": "tick"},
    ],
)
def test_res_or_event_instead_of_connect(frame: dict[str, Any]) -> None:
    conn = make()
    close = only_close(conn.receive(json.dumps(frame)))
    assert close.code == 1008
    assert "connect" in close.reason
    assert conn.state is State.CLOSED


def test_envelope_error_with_usable_id_during_handshake() -> None:
    conn = make()
    frame = json.dumps({"type": "req", "id": "c1", "method": "connect", "params": [],
                        })
    response, close = unpack_failure(conn.receive(frame))
    assert response["id"] == "c1"
    assert response["ok"] is False
    assert response["error"]["code"] == "INVALID_REQUEST"
    assert response["error"]["message"] == (
        "invalid handshake: request params must be an object"
    )
    assert close.code == 1008


def test_unknown_envelope_key_during_handshake() -> None:
    conn = make()
    frame = json.dumps({"type": "req", "id": "c1", "method": "connect",
                        "params": connect_params(), "extra": True})
    response, close = unpack_failure(conn.receive(frame))
    assert response["error"]["message"] == "invalid handshake: unknown request field: extra"
    assert close.code == 1008


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"client": {"id": "bogus", "version": "1", "platform": "p", "mode": "cli"}},
         "at /client/id: "),
        ({"client": {"id": "cli", "version": "1", "platform": "p", "mode": "cli", "x": 1}},
         "at /client/x: unknown property"),
        ({"minProtocol": "4"}, "at /minProtocol: "),
        ({"auth": {"token": 5}}, "at /auth/token: "),
        ({"surprise": 1}, "at /surprise: unknown property"),
        ({"caps": [1]}, "at /caps/0: "),
    ],
)
def test_bad_connect_params(overrides: dict[str, Any], pointer: str) -> None:
    conn = make()
    response, close = unpack_failure(conn.receive(connect_frame(**overrides)))
    message = response["error"]["message"]
    assert message.startswith(f"invalid connect params: {pointer}")
    assert response["error"]["code"] == "INVALID_REQUEST"
    assert response["id"] == "c1"
    assert close.code == 1008
    assert close.reason == message
    assert conn.state is State.CLOSED


@pytest.mark.parametrize(("low", "high"), [(5, 6), (1, 3), (5, 3), (3, 3)])
def test_protocol_mismatch(low: int, high: int) -> None:
    conn = make()
    response, close = unpack_failure(conn.receive(connect_frame(minProtocol=low,
                                                                maxProtocol=high)))
    error = response["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"] == "protocol mismatch"
    assert error["details"] == {
        "code": "PROTOCOL_MISMATCH",
        "clientMinProtocol": low,
        "clientMaxProtocol": high,
        "expectedProtocol": 4,
    }
    assert PROTOCOL_VERSION == 4
    assert close == CloseConnection(1002, "protocol mismatch")


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "AUTH_TOKEN_MISSING"),
        ({}, "AUTH_TOKEN_MISSING"),
        ({"token": ""}, "AUTH_TOKEN_MISSING"),
        ({"token": "wrong-token"}, "AUTH_TOKEN_MISMATCH"),
        ({"password": "pw-1234"}, "AUTH_TOKEN_MISSING"),
    ],
)
def test_auth_failures(auth: dict[str, Any] | None, code: str) -> None:
    conn = make()
    params = connect_params(auth=auth)
    if auth is None:
        del params["auth"]
    frame = json.dumps({"type": "req", "id": "c1", "method": "connect", "params": params})
    response, close = unpack_failure(conn.receive(frame))
    error = response["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["details"]["code"] == code
    assert error["message"].startswith("unauthorized: ")
    assert "retryAfterMs" not in error
    assert close.code == 1008
    assert close.reason == error["message"]
    assert conn.state is State.CLOSED
    assert conn.grant is None


def test_auth_not_configured() -> None:
    conn = make(authenticator=Authenticator("token"))
    response, close = unpack_failure(conn.receive(connect_frame()))
    assert response["error"]["details"]["code"] == "AUTH_TOKEN_NOT_CONFIGURED"
    assert close.code == 1008


def test_password_mode_failures() -> None:
    auth = Authenticator("password", password="pw-1234")
    response, _ = unpack_failure(make(authenticator=auth).receive(connect_frame()))
    assert response["error"]["details"]["code"] == "AUTH_PASSWORD_MISSING"
    response, _ = unpack_failure(
        make(authenticator=auth).receive(connect_frame(auth={"password": "nope"}))
    )
    assert response["error"]["details"]["code"] == "AUTH_PASSWORD_MISMATCH"
    (accepted,) = make(authenticator=auth).receive(connect_frame(auth={"password": "pw-1234"}))
    assert isinstance(accepted, Accepted)


def test_rate_limited_handshake_is_retryable() -> None:
    clock = Clock()
    auth = Authenticator("token", token=TOKEN, clock=clock, limit=RateLimit(2, 60_000, 5_000))
    for _ in range(2):
        make(authenticator=auth).receive(connect_frame(auth={"token": "bad"}))
    clock.now += 1
    conn = make(authenticator=auth)
    response, close = unpack_failure(conn.receive(connect_frame(auth={"token": "bad"})))
    error = response["error"]
    assert error["details"]["code"] == "AUTH_RATE_LIMITED"
    assert error["details"]["retryAfterMs"] == 4_000
    assert error["retryable"] is True
    assert error["retryAfterMs"] == 4_000
    assert close.code == 1008
    # the correct token is not locked out (see auth.py)
    assert isinstance(make(authenticator=auth).receive(connect_frame())[0], Accepted)


def test_role_node_refused() -> None:
    conn = make()
    response, close = unpack_failure(conn.receive(connect_frame(role="node")))
    assert response["error"]["code"] == "INVALID_REQUEST"
    assert "node" in response["error"]["message"]
    assert "operator" in response["error"]["message"]
    assert close.code == 1008
    assert conn.state is State.CLOSED


def test_role_refused_before_auth_is_checked() -> None:
    # a refused role must not count as an auth failure against the address
    clock = Clock()
    auth = Authenticator("token", token=TOKEN, clock=clock, limit=RateLimit(1, 60_000, 60_000))
    unpack_failure(make(authenticator=auth).receive(connect_frame(role="node")))
    (accepted,) = make(authenticator=auth).receive(connect_frame())
    assert isinstance(accepted, Accepted)


# --- browser origin ------------------------------------------------------------------


def browser(origin: str | None, address: str = "127.0.0.1",
            authenticator: Authenticator | None = None,
            allowed: tuple[str, ...] = ()) -> ServerConnection:
    auth = authenticator or Authenticator("token", token=TOKEN)
    return ServerConnection(auth, address, nonce="n", now_ms=1, origin=origin,
                            host="127.0.0.1:18789", allowed_origins=allowed)


def test_foreign_origin_refused_before_auth() -> None:
    conn = browser("https://evil.example")
    response, close = unpack_failure(conn.receive(connect_frame(auth={"token": "wrong"})))
    assert response["error"] == {
        "code": "INVALID_REQUEST",
        "message": "origin not allowed (open the Control UI from the gateway host or allow "
                   "it in gateway.controlUi.allowedOrigins)",
        "details": {"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED", "reason": "origin not allowed"},
    }
    assert close.code == CLOSE_POLICY
    assert close.reason.startswith("origin not allowed")
    assert conn.state is State.CLOSED
    assert conn.origin_verdict is not None and not conn.origin_verdict.ok


def test_refused_origin_is_not_an_auth_failure() -> None:
    # one allowed failure: if the origin refusals counted, the good connect would be locked out
    clock = Clock()
    auth = Authenticator("token", token=TOKEN, clock=clock, limit=RateLimit(1, 60_000, 60_000),
                         loopback_limit=RateLimit(1, 60_000, 60_000))
    for _ in range(3):
        unpack_failure(browser("https://evil.example", authenticator=auth)
                       .receive(connect_frame(auth={"token": "wrong"})))
    (accepted,) = browser(None, authenticator=auth).receive(connect_frame())
    assert isinstance(accepted, Accepted)


def test_origin_checked_after_the_schema() -> None:
    # a malformed connect is a schema error whatever the origin
    response, _ = unpack_failure(browser("https://evil.example").receive(connect_frame(x=1)))
    assert response["error"]["message"] == "invalid connect params: at /x: unknown property"


@pytest.mark.parametrize("origin", [None, "", "http://127.0.0.1:5173", "http://localhost:1"])
def test_no_origin_or_a_loopback_one_connects(origin: str | None) -> None:
    (accepted,) = browser(origin).receive(connect_frame())
    assert isinstance(accepted, Accepted)


def test_allowed_origin_connects_from_anywhere() -> None:
    conn = browser("https://ui.example.com", address=REMOTE, allowed=("https://ui.example.com",))
    (accepted,) = conn.receive(connect_frame())
    assert isinstance(accepted, Accepted)


def test_loopback_origin_from_a_remote_peer_is_refused() -> None:
    response, _ = unpack_failure(browser("http://localhost:5173", address=REMOTE)
                                 .receive(connect_frame()))
    assert response["error"]["details"]["code"] == "CONTROL_UI_ORIGIN_NOT_ALLOWED"


def test_binary_frame_during_handshake() -> None:
    conn = make()
    close = only_close(conn.receive(connect_frame().encode()))
    assert close.code == 1003
    assert conn.state is State.CLOSED


def test_binary_frame_after_open() -> None:
    conn = opened()
    close = only_close(conn.receive(b"\x00\x01"))
    assert close.code == 1003
    assert conn.state is State.CLOSED


def test_handshake_timeout() -> None:
    conn = make()
    close = only_close(conn.handshake_timeout())
    assert close == CloseConnection(1008, "handshake timeout")
    assert conn.state is State.CLOSED
    assert conn.handshake_timeout() == []


def test_nothing_happens_after_close() -> None:
    conn = make()
    conn.handshake_timeout()
    assert conn.receive(connect_frame()) == []
    assert conn.receive(b"binary") == []
    assert conn.state is State.CLOSED


def test_close_reason_fits_in_123_bytes() -> None:
    conn = make()
    long_id = "é" * 300
    client = {"id": long_id, "version": "1", "platform": "p", "mode": "cli"}
    response, close = unpack_failure(conn.receive(connect_frame(client=client)))
    assert len(close.reason.encode("utf-8")) <= 123
    assert close.reason.endswith("...")
    assert response["error"]["message"].startswith(close.reason[:-3])
    assert len(response["error"]["message"]) > len(close.reason)


# --- after open ----------------------------------------------------------------------


def test_second_connect_is_an_error_without_close() -> None:
    conn = opened()
    response = only_error(conn.receive(connect_frame("c2")))
    assert response["id"] == "c2"
    assert response["ok"] is False
    assert response["error"]["code"] == "INVALID_REQUEST"
    assert "already connected" in response["error"]["message"]
    assert conn.state is State.OPEN
    (action,) = conn.receive(request("r1", "health"))
    assert isinstance(action, Dispatch)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"type": "req", "id": "r9", "method": "health", "params": [1]},
         "request params must be an object"),
        ({"type": "req", "id": "r9", "method": ""}, "request method must be a non-empty string"),
        ({"type": "req", "id": "r9", "method": "health", "bogus": 1},
         "unknown request field: bogus"),
    ],
)
def test_bad_frame_with_id_after_open_is_an_error_without_close(frame: dict[str, Any],
                                                                 reason: str) -> None:
    conn = opened()
    response = only_error(conn.receive(json.dumps(frame)))
    assert response["id"] == "r9"
    assert response["ok"] is False
    assert response["error"] == {"code": "INVALID_REQUEST",
                                 "message": f"invalid request frame: {reason}"}
    assert conn.state is State.OPEN


@pytest.mark.parametrize(
    "data",
    [
        "{oops",
        "[]",
        json.dumps({"type": "nope", "id": "r1", "method": "health"}),
        json.dumps({"type": "req", "method": "health"}),
        json.dumps({"type": "req", "id": "x" * 300, "method": "health"}),
    ],
)
def test_bad_frame_without_id_after_open_closes_1007(data: str) -> None:
    conn = opened()
    close = only_close(conn.receive(data))
    assert close.code == 1007
    assert close.reason.startswith("invalid frame: ")
    assert conn.state is State.CLOSED


def test_frame_with_too_many_values_closes_1009() -> None:
    conn = opened()
    frame = request("r1", "health", {f"k{i}": 1 for i in range(200_000)})
    close = only_close(conn.receive(frame))
    assert (close.code, close.reason) == (1009, "frame holds more than 100000 JSON values")


def test_deeply_nested_frame_closes_1007() -> None:
    conn = opened()
    close = only_close(conn.receive("[" * 100_000 + "]" * 100_000))
    assert (close.code, close.reason) == (1007, "invalid frame: malformed JSON: nested too deeply")


def test_res_and_event_after_open_are_ignored() -> None:
    conn = opened()
    assert conn.receive(json.dumps({"type": "res", "id": "1", "ok": True})) == []
    assert conn.receive(json.dumps({"type": "event", "event": "x"})) == []
    assert conn.state is State.OPEN
