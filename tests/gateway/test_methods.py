"""Core methods over a real connection: results, params schemas, scopes, bad requests."""

from __future__ import annotations

import os

import pytest

from harness import GatewayProcess, RawClient


@pytest.fixture
def client(shared_gateway: GatewayProcess):  # type: ignore[no-untyped-def]
    raw = RawClient(shared_gateway.url)
    raw.handshake(shared_gateway.token, mode="backend")
    yield raw
    raw.close()


def test_health(client: RawClient, shared_gateway: GatewayProcess) -> None:
    payload = client.request("health")["payload"]
    assert payload["ok"] is True
    assert payload["channels"] == {} and payload["channelOrder"] == []
    assert payload["defaultAgentId"] == "main"
    assert payload["heartbeatSeconds"] in (0, 1800)
    assert payload["process"]["pid"] == shared_gateway.pid
    assert payload["process"]["rssBytes"] > 1_000_000
    assert payload["process"]["uptimeMs"] >= 0
    assert isinstance(payload["agents"], list) and payload["agents"][0]["isDefault"] is True


def test_status(client: RawClient) -> None:
    payload = client.request("status")["payload"]
    assert payload["runtimeVersion"]
    assert payload["heartbeat"]["defaultAgentId"] == "main"
    assert payload["channelSummary"] == []
    assert payload["sessions"]["count"] == 0
    assert isinstance(payload["queuedSystemEvents"], list)
    assert payload["gateway"]["authMode"] == "token"
    assert "shared-secret-token" not in str(payload)


def test_channels_status_is_empty_but_well_formed(client: RawClient) -> None:
    payload = client.request("channels.status", {"probe": True, "timeoutMs": 100})["payload"]
    assert set(payload) == {"ts", "channelOrder", "channelLabels", "channels",
                            "channelAccounts", "channelDefaultAccountId"}
    assert payload["channelOrder"] == []


def test_system_event_updates_presence_and_queue(client: RawClient) -> None:
    reply = client.request("system-event", {"text": "Node: studio online",
                                            "instanceId": "node-studio", "host": "studio"})
    assert reply["ok"] is True and reply["payload"] == {"ok": True}
    entries = client.request("system-presence")["payload"]
    studio = [e for e in entries if e.get("instanceId") == "node-studio"]
    assert studio and studio[0]["text"] == "Node: studio online"
    assert studio[0]["reason"] == "event"
    queued = client.request("status")["payload"]["queuedSystemEvents"]
    assert "Node: studio online" in queued


def test_system_event_requires_text(client: RawClient) -> None:
    error = client.request("system-event", {})["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"].startswith("invalid system-event params: at /")


def test_heartbeats(client: RawClient) -> None:
    assert client.request("last-heartbeat")["payload"] is None
    reply = client.request("set-heartbeats", {"enabled": False})
    assert reply["payload"] == {"ok": True, "enabled": False}
    assert client.request("health")["payload"]["heartbeatSeconds"] == 0
    assert client.request("set-heartbeats", {"enabled": True})["payload"]["enabled"] is True
    assert client.request("health")["payload"]["heartbeatSeconds"] == 1800
    bad = client.request("set-heartbeats", {"enabled": "yes"})
    assert bad["error"]["code"] == "INVALID_REQUEST"


def test_logs_tail(client: RawClient) -> None:
    payload = client.request("logs.tail", {"limit": 5})["payload"]
    assert payload["file"].endswith(".log")
    assert payload["size"] >= payload["cursor"] > 0
    assert 0 < len(payload["lines"]) <= 5
    again = client.request("logs.tail", {"cursor": payload["cursor"]})["payload"]
    assert again["cursor"] >= payload["cursor"]
    assert "reset" not in again
    past = client.request("logs.tail", {"cursor": payload["size"] + 10**9})["payload"]
    assert past["reset"] is True


@pytest.mark.parametrize(
    ("method", "params", "pointer"),
    [
        ("health", {"probe": True, "verbose": 1}, "/verbose"),
        ("logs.tail", {"limit": 0}, "/limit"),
        ("logs.tail", {"limit": 5001}, "/limit"),
        ("logs.tail", {"maxBytes": 2_000_000}, "/maxBytes"),
        ("logs.tail", {"sinceMs": 60000}, "/sinceMs"),
        ("system-presence", {"x": 1}, "/x"),
        ("channels.status", {"timeoutMs": -1}, "/timeoutMs"),
    ],
)
def test_params_schemas_are_closed(client: RawClient, method: str, params: dict,
                                   pointer: str) -> None:
    error = client.request(method, params)["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"].startswith(f"invalid {method} params: at {pointer}")


def test_unknown_method(client: RawClient) -> None:
    error = client.request("no.such.method")["error"]
    assert error == {"code": "INVALID_REQUEST", "message": "unknown method: no.such.method"}


def test_bad_requests_after_hello_never_close(client: RawClient) -> None:
    client.send({"type": "req", "id": "a1", "method": "health", "params": [1]})
    assert client.response("a1")["error"]["message"].startswith("invalid request frame")
    client.send({"type": "req", "id": "a2", "method": "health", "extra": 1})
    assert (client.response("a2")["error"]["message"]
            == "invalid request frame: unknown request field: extra")
    client.send({"type": "req", "id": "a3", "method": "connect", "params": {}})
    assert client.response("a3")["error"]["message"].startswith("already connected")
    client.send({"type": "event", "event": "whatever"})  # ignored
    assert client.request("health")["ok"] is True


def test_malformed_json_after_hello_closes_1007(shared_gateway: GatewayProcess) -> None:
    raw = RawClient(shared_gateway.url)
    raw.handshake(shared_gateway.token)
    raw.send("{nope")
    assert raw.close_code()[0] == 1007


def test_read_only_scope_cannot_write(shared_gateway: GatewayProcess) -> None:
    raw = RawClient(shared_gateway.url)
    hello = raw.handshake(shared_gateway.token, scopes=["operator.read"])
    assert hello["auth"]["scopes"] == ["operator.read"]
    assert raw.request("health")["ok"] is True
    error = raw.request("system-event", {"text": "hi"})["error"]
    assert error["code"] == "FORBIDDEN"
    assert error["message"] == "missing scope: operator.write"
    assert error["details"] == {"code": "MISSING_SCOPE", "missingScope": "operator.write",
                                "requiredScopes": ["operator.write"]}
    raw.close()


def test_no_scopes_can_read_nothing(shared_gateway: GatewayProcess) -> None:
    raw = RawClient(shared_gateway.url)
    raw.handshake(shared_gateway.token, scopes=[])
    error = raw.request("health")["error"]
    assert error["code"] == "FORBIDDEN" and error["details"]["missingScope"] == "operator.read"
    raw.close()


def test_write_scope_implies_read(shared_gateway: GatewayProcess) -> None:
    raw = RawClient(shared_gateway.url)
    raw.handshake(shared_gateway.token, scopes=["operator.write"])
    assert raw.request("status")["ok"] is True
    assert raw.request("system-event", {"text": "w"})["ok"] is True
    raw.close()


def test_state_dir_is_owner_only(shared_gateway: GatewayProcess) -> None:
    assert os.stat(shared_gateway.state_dir).st_mode & 0o777 == 0o700
    assert os.stat(shared_gateway.log_dir).st_mode & 0o777 == 0o700
