"""The handshake against a real gateway: success and every row of the failure table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness import GatewayProcess, RawClient, connect_frame


def test_hello_ok_carries_the_documented_fields(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    challenge = client.challenge
    assert challenge["type"] == "event" and challenge["event"] == "connect.challenge"
    assert isinstance(challenge["payload"]["nonce"], str) and challenge["payload"]["ts"] > 0
    hello = client.handshake(shared_gateway.token, mode="ui")
    assert hello["type"] == "hello-ok"
    assert hello["protocol"] == 4
    assert set(hello["server"]) >= {"version", "connId", "bootId"}
    assert "health" in hello["features"]["methods"]
    assert {"tick", "presence", "shutdown", "health"} <= set(hello["features"]["events"])
    snapshot = hello["snapshot"]
    assert snapshot["presence"][0]["mode"] == "gateway"
    assert snapshot["presence"][0]["reason"] == "self"
    assert set(snapshot["stateVersion"]) == {"presence", "health"}
    assert snapshot["authMode"] == "token"
    assert snapshot["configPath"].endswith("openclaw.json")
    # the main session's key as the chat and session methods give it
    assert snapshot["sessionDefaults"] == {"defaultAgentId": "main", "mainKey": "main",
                                           "mainSessionKey": "agent:main:main"}
    assert hello["auth"] == {"method": "token", "role": "operator", "scopes": ["operator.admin"]}
    assert hello["policy"] == {
        "maxPayload": 26214400, "maxBufferedBytes": 52428800, "tickIntervalMs": 30000,
    }
    client.close()


def _expect_refusal(client: RawClient, frame: dict, close: int) -> dict:
    client.send(frame)
    reply = client.recv()
    assert reply["type"] == "res" and reply["id"] == frame["id"] and reply["ok"] is False
    code, _ = client.close_code()
    assert code == close
    return dict(reply["error"])


def test_first_request_must_be_connect(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    error = _expect_refusal(client, {"type": "req", "id": "1", "method": "health"}, 1008)
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"] == "invalid handshake: first request must be connect"


@pytest.mark.parametrize(
    "raw",
    ["not json", "[1,2,3]", '"a string"', '{"type":"bogus"}', "{", '{"type":"req"}'],
)
def test_malformed_first_frames_close_1007(shared_gateway: GatewayProcess, raw: str) -> None:
    client = RawClient(shared_gateway.url)
    client.send(raw)
    code, reason = client.close_code()
    assert code == 1007
    assert reason.startswith("invalid frame")
    assert client.events == []  # no response is possible without a request id


def test_binary_first_frame_closes_1003(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    client.send(b'{"type":"req"}')
    assert client.close_code()[0] == 1003


def test_unknown_connect_key_is_a_schema_error(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    frame = connect_frame(shared_gateway.token, surprise=True)
    error = _expect_refusal(client, frame, 1008)
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"].startswith("invalid connect params: at /surprise")


def test_unknown_client_id_is_rejected(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    frame = connect_frame(shared_gateway.token, client_id="mystery-client")
    error = _expect_refusal(client, frame, 1008)
    assert error["message"].startswith("invalid connect params: at /client/id:")


def test_wrong_type_is_a_schema_error(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    frame = connect_frame(shared_gateway.token)
    frame["params"]["minProtocol"] = "three"
    error = _expect_refusal(client, frame, 1008)
    assert "at /minProtocol" in error["message"]


def test_protocol_mismatch(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    frame = connect_frame(shared_gateway.token, minProtocol=5, maxProtocol=6)
    error = _expect_refusal(client, frame, 1002)
    assert error["message"] == "protocol mismatch"
    assert error["details"] == {
        "code": "PROTOCOL_MISMATCH", "clientMinProtocol": 5, "clientMaxProtocol": 6,
        "expectedProtocol": 4,
    }


def test_wrong_token(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    error = _expect_refusal(client, connect_frame("not-the-token"), 1008)
    assert error["message"] == "unauthorized: gateway token mismatch"
    assert error["details"]["code"] == "AUTH_TOKEN_MISMATCH"
    assert error["details"]["recommendedNextStep"] == "update_auth_credentials"


def test_missing_token(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    error = _expect_refusal(client, connect_frame(None), 1008)
    assert error["details"]["code"] == "AUTH_TOKEN_MISSING"


def test_oversized_preconnect_frame_closes_1009(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url)
    frame = connect_frame(shared_gateway.token)
    frame["params"]["userAgent"] = "x" * (70 * 1024)
    client.send(frame)
    assert client.close_code()[0] == 1009


def test_large_frame_is_fine_after_hello(shared_gateway: GatewayProcess) -> None:
    client = RawClient(shared_gateway.url, max_size=None)
    client.handshake(shared_gateway.token)
    reply = client.request("system-event", {"text": "y" * (200 * 1024)})
    assert reply["ok"] is True
    client.close()


def test_handshake_timeout(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(env={"OPENCLAW_HANDSHAKE_TIMEOUT_MS": "300"})
    client = RawClient(gateway.url)
    code, reason = client.close_code(timeout=5)
    assert (code, reason) == (1008, "handshake timeout")


def test_password_mode(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(config={"gateway": {"auth": {"mode": "password",
                                                         "password": "correct horse"}}})
    missing = _expect_refusal(RawClient(gateway.url), connect_frame(None), 1008)
    assert missing["details"]["code"] == "AUTH_PASSWORD_MISSING"
    wrong = _expect_refusal(RawClient(gateway.url), connect_frame(None, password="nope"), 1008)
    assert wrong["details"]["code"] == "AUTH_PASSWORD_MISMATCH"
    ok = RawClient(gateway.url)
    assert ok.handshake(None, password="correct horse")["auth"]["method"] == "password"
    ok.close()


def test_auth_none_on_loopback(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway("--auth", "none")
    client = RawClient(gateway.url)
    assert client.handshake(None)["snapshot"]["authMode"] == "none"
    client.close()


def test_repeated_failures_are_rate_limited(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(config={"gateway": {"auth": {"token": "right-token", "rateLimit": {
        "loopbackMaxAttempts": 3, "loopbackWindowMs": 60000, "loopbackLockoutMs": 60000}}}})
    for _ in range(3):
        error = _expect_refusal(RawClient(gateway.url), connect_frame("wrong"), 1008)
        assert error["details"]["code"] == "AUTH_TOKEN_MISMATCH"
    # Locked out now: a wrong token is refused with a retry hint...
    error = _expect_refusal(RawClient(gateway.url), connect_frame("wrong"), 1008)
    assert error["details"]["code"] == "AUTH_RATE_LIMITED"
    assert error["retryable"] is True
    assert 0 < error["retryAfterMs"] <= 60000
    assert error["details"]["retryAfterMs"] == error["retryAfterMs"]
    # ... and the right token still gets in (it cannot be guessed; see protocol.md).
    owner = RawClient(gateway.url)
    owner.handshake("right-token")
    owner.close()


def test_failed_handshakes_do_not_disturb_open_clients(shared_gateway: GatewayProcess) -> None:
    steady = RawClient(shared_gateway.url)
    steady.handshake(shared_gateway.token)
    for raw in ("garbage", '{"type":"req","id":"x","method":"health"}'):
        bad = RawClient(shared_gateway.url)
        bad.send(raw)
        bad.close_code()
    assert steady.request("health")["ok"] is True
    steady.close()


def test_max_payload_is_enforced_after_hello(make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(config={"gateway": {"maxPayload": 65536}})
    client = RawClient(gateway.url, max_size=None)
    hello = client.handshake(gateway.token)
    assert hello["policy"]["maxPayload"] == 65536
    assert client.request("system-event", {"text": "x" * 60_000})["ok"] is True
    client.send({"type": "req", "id": "big", "method": "system-event",
                 "params": {"text": "x" * 70_000}})
    assert client.close_code()[0] == 1009
    other = RawClient(gateway.url)
    other.handshake(gateway.token)
    assert other.request("health")["ok"] is True
    other.close()
