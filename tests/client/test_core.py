"""Unit tests for openclaw.client.core: connect params, error mapping."""

from __future__ import annotations

import json
import os

import pytest

from openclaw import PROTOCOL_VERSION, __version__
from openclaw.client.core import (
    ALL_SCOPES,
    INTERIM_STATUSES,
    auth_hint,
    closed_error,
    connect_params,
    handshake_error,
    is_interim,
    new_id,
)
from openclaw.errors import (
    AuthError,
    ExitCode,
    GatewayUnreachable,
    RequestError,
)
from openclaw.protocol.auth import Authenticator, RateLimit
from openclaw.protocol.connection import Accepted, SendFrame, ServerConnection
from openclaw.protocol.frames import ConnectParams, convert_params

URL = "ws://127.0.0.1:18789"

# --- connect_params ------------------------------------------------------------------


def test_connect_params_shape() -> None:
    params = connect_params(token="tok-1")
    assert params["minProtocol"] == 3
    assert params["maxProtocol"] == PROTOCOL_VERSION == 4
    assert params["role"] == "operator"
    assert params["caps"] == []
    assert params["scopes"] == list(ALL_SCOPES)
    assert params["scopes"] == ["operator.read", "operator.write", "operator.admin"]
    assert params["auth"] == {"token": "tok-1"}
    assert params["userAgent"] == f"openclaw-python/{__version__}"
    client = params["client"]
    assert client["id"] == "cli"
    assert client["mode"] == "cli"
    assert client["version"] == __version__
    assert isinstance(client["platform"], str) and client["platform"]
    assert client["platform"] == client["platform"].lower()
    assert client["instanceId"].startswith(f"cli-{os.getpid()}-")
    assert "displayName" not in client
    assert set(params) == {"minProtocol", "maxProtocol", "client", "role", "caps", "scopes",
                           "auth", "userAgent"}


def test_connect_params_is_json_serialisable() -> None:
    params = connect_params(token="t", display_name="Me")
    assert json.loads(json.dumps(params)) == params


def test_connect_params_without_secret_has_no_auth() -> None:
    assert "auth" not in connect_params()
    assert "auth" not in connect_params(token="", password="")


def test_connect_params_password() -> None:
    assert connect_params(password="pw")["auth"] == {"password": "pw"}
    assert connect_params(token="t", password="pw")["auth"] == {"token": "t", "password": "pw"}


def test_connect_params_scopes() -> None:
    assert "scopes" not in connect_params(scopes=None)
    assert connect_params(scopes=("operator.read",))["scopes"] == ["operator.read"]
    assert connect_params(scopes=[])["scopes"] == []


def test_connect_params_client_overrides() -> None:
    params = connect_params(client_id="openclaw-tui", mode="ui", instance_id="inst-1",
                            display_name="Terminal")
    client = params["client"]
    assert client["id"] == "openclaw-tui"
    assert client["mode"] == "ui"
    assert client["instanceId"] == "inst-1"
    assert client["displayName"] == "Terminal"


def test_connect_params_instance_ids_differ() -> None:
    assert connect_params()["client"]["instanceId"] != connect_params()["client"]["instanceId"]


def test_connect_params_accepted_by_the_server_schema() -> None:
    converted = convert_params(connect_params(token="t", display_name="Me"), ConnectParams)
    assert converted.client.id == "cli"
    assert converted.auth is not None and converted.auth.token == "t"
    assert converted.scopes == list(ALL_SCOPES)


def test_connect_params_complete_a_handshake() -> None:
    conn = ServerConnection(Authenticator("token", token="tok-1"), "127.0.0.1",
                            nonce="n", now_ms=0)
    frame = {"type": "req", "id": new_id(), "method": "connect",
             "params": connect_params(token="tok-1")}
    (accepted,) = conn.receive(json.dumps(frame))
    assert isinstance(accepted, Accepted)
    assert accepted.grant.scopes == ALL_SCOPES


# --- is_interim ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"status": "accepted"}, True),
        ({"status": "in_flight", "runId": "r"}, True),
        ({"status": "ok"}, False),
        ({"status": "done"}, False),
        ({"status": "ACCEPTED"}, False),
        ({}, False),
        (None, False),
        ("accepted", False),
        (["accepted"], False),
        ({"state": "accepted"}, False),
    ],
)
def test_is_interim(payload: object, expected: bool) -> None:
    assert is_interim(payload) is expected


def test_interim_statuses() -> None:
    assert frozenset({"accepted", "in_flight"}) == INTERIM_STATUSES


# --- handshake_error -----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["AUTH_TOKEN_MISSING", "AUTH_TOKEN_MISMATCH", "AUTH_PASSWORD_MISSING",
     "AUTH_PASSWORD_MISMATCH", "AUTH_RATE_LIMITED", "AUTH_TOKEN_NOT_CONFIGURED",
     "AUTH_SOMETHING_NEW"],
)
def test_auth_codes_map_to_auth_error(code: str) -> None:
    error = handshake_error(URL, {"code": "INVALID_REQUEST", "message": "unauthorized: x",
                                  "details": {"code": code}})
    assert isinstance(error, AuthError)
    assert error.exit_code == ExitCode.AUTH == 77
    assert URL in error.message
    assert "unauthorized: x" in error.message
    assert error.details == {"code": code}


def test_auth_hints() -> None:
    def hint(code: str) -> str:
        error = handshake_error(URL, {"code": "INVALID_REQUEST", "message": "m",
                                      "details": {"code": code}})
        assert error.hint is not None and error.hint not in error.message
        return error.hint

    assert "--token" in hint("AUTH_TOKEN_MISSING")
    assert "OPENCLAW_GATEWAY_TOKEN" in hint("AUTH_TOKEN_MISMATCH")
    assert "--password" in hint("AUTH_PASSWORD_MISSING")
    assert "wait and retry" in hint("AUTH_RATE_LIMITED")
    assert "check the gateway's auth settings" in hint("AUTH_WHATEVER")


def test_auth_hints_say_only_what_is_true() -> None:
    # With --url the environment is ignored, so suggesting it would mislead.
    for code in ("AUTH_TOKEN_MISSING", "AUTH_TOKEN_MISMATCH", "AUTH_PASSWORD_MISSING"):
        text = auth_hint(code, explicit_url=True)
        assert "OPENCLAW_GATEWAY" not in text and "--url" in text
    generated = auth_hint("AUTH_TOKEN_MISMATCH", token_source="token-file",
                          token_file="~/.openclaw/credentials/gateway-token")
    assert "~/.openclaw/credentials/gateway-token" in generated
    from_env = auth_hint("AUTH_TOKEN_MISMATCH", token_source="OPENCLAW_GATEWAY_TOKEN")
    assert "OPENCLAW_GATEWAY_TOKEN" in from_env and "gateway.auth.token" not in from_env


def test_rate_limited_keeps_retry_after() -> None:
    error = handshake_error(URL, {"code": "INVALID_REQUEST", "message": "m", "retryable": True,
                                  "retryAfterMs": 1234,
                                  "details": {"code": "AUTH_RATE_LIMITED",
                                              "retryAfterMs": 1234}})
    assert isinstance(error, AuthError)
    assert error.retry_after_ms == 1234


def test_protocol_mismatch_is_a_request_error() -> None:
    details = {"code": "PROTOCOL_MISMATCH", "expectedProtocol": 4}
    error = handshake_error(URL, {"code": "INVALID_REQUEST", "message": "protocol mismatch",
                                  "details": details})
    assert isinstance(error, RequestError)
    assert not isinstance(error, AuthError)
    assert error.code == "INVALID_REQUEST"
    assert error.exit_code == 1
    assert error.details == details
    assert URL in error.message and "protocol mismatch" in error.message


def test_error_without_details_is_a_request_error() -> None:
    error = handshake_error(URL, {"code": "UNAVAILABLE", "message": "shutting down"})
    assert isinstance(error, RequestError)
    assert error.code == "UNAVAILABLE"


@pytest.mark.parametrize("error", [None, "boom", 42, ["x"]])
def test_malformed_error_object(error: object) -> None:
    result = handshake_error(URL, error)
    assert isinstance(result, RequestError)
    assert result.code == "UNAVAILABLE"
    assert URL in result.message


def test_non_string_details_code_is_not_auth() -> None:
    result = handshake_error(URL, {"code": "X", "message": "m", "details": {"code": 5}})
    assert isinstance(result, RequestError)


def test_handshake_error_from_a_real_server_refusal() -> None:
    """The server's auth refusal, decoded by the client, becomes exit code 77."""
    conn = ServerConnection(
        Authenticator("token", token="right", limit=RateLimit(1, 60_000, 60_000)),
        "203.0.113.1", nonce="n", now_ms=0,
    )
    frame = {"type": "req", "id": "c1", "method": "connect",
             "params": connect_params(token="wrong")}
    send = conn.receive(json.dumps(frame))[0]
    assert isinstance(send, SendFrame)
    error = handshake_error(URL, json.loads(send.data)["error"])
    assert isinstance(error, AuthError)
    assert error.exit_code == 77
    assert error.details is not None and error.details["code"] == "AUTH_TOKEN_MISMATCH"


# --- closed_error --------------------------------------------------------------------


def test_closed_error() -> None:
    error = closed_error(URL, 1008, "handshake timeout", "during the handshake")
    assert isinstance(error, GatewayUnreachable)
    assert error.exit_code == ExitCode.UNAVAILABLE == 69
    assert error.message == (
        f"gateway at {URL} closed the connection during the handshake "
        "(1008 policy violation): handshake timeout"
    )


def test_closed_error_without_code() -> None:
    error = closed_error(URL, None, "", "while waiting")
    assert error.message == f"gateway at {URL} closed the connection while waiting (no close frame)"


def test_closed_error_unknown_code() -> None:
    assert "(4999)" in closed_error(URL, 4999, "", "x").message


def test_new_id_unique_hex() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
