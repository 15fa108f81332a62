"""Golden fixtures: the connect frames OpenClaw's own clients really send.

``fixtures/*.json`` were captured from OpenClaw 2026.9.6's Control UI (in headless
Chromium) and CLI (on Node 24) by a recording proxy; secrets and the device signature
are placeholders. Each must be accepted by the sans-I/O connection and answered with
``hello-ok``; the same frame with one unknown key more must be refused, naming it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from openclaw.protocol.auth import Authenticator
from openclaw.protocol.connection import (
    CLOSE_POLICY,
    Accepted,
    CloseConnection,
    SendFrame,
    ServerConnection,
)
from openclaw.protocol.hello import Policy, ServerInfo, build_hello

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "fixture-token-0123456789"
NAMES = sorted(path.name for path in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    """A fixture with its placeholders filled in for this test's gateway."""
    text = (FIXTURES / name).read_text().replace("<TOKEN>", TOKEN)
    fixture: dict[str, Any] = json.loads(text)
    return fixture


def connection(fixture: dict[str, Any], authenticator: Authenticator | None = None,
               remote: str = "127.0.0.1") -> ServerConnection:
    origin = fixture["upgradeHeaders"].get("Origin")
    return ServerConnection(
        authenticator or Authenticator("token", token=TOKEN), remote, nonce="n", now_ms=1,
        origin=origin.replace("<UI_PORT>", "5173") if origin else None,
        host="127.0.0.1:18789",
    )


def test_the_three_captures_are_present() -> None:
    assert NAMES == ["cli-gateway-call-health.json", "cli-health.json", "control-ui.json"]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_connect_is_accepted_with_hello_ok(name: str) -> None:
    fixture = load(name)
    params = fixture["connect"]["params"]
    [action] = connection(fixture).receive(json.dumps(fixture["connect"]))
    assert isinstance(action, Accepted), action
    assert action.request_id == fixture["connect"]["id"]
    assert action.params.client.id == params["client"]["id"]
    assert action.grant.method == "token"
    assert list(action.grant.scopes) == params["scopes"]
    hello = build_hello(ServerInfo("0.1.0", "c1", "boot", "host"), ["health"], ["tick"], {},
                        action.grant.to_wire(), Policy(1, 2, 3))
    assert hello["type"] == "hello-ok" and hello["protocol"] == 4


def test_control_ui_fixture_keys_are_typed() -> None:
    [action] = connection(load("control-ui.json")).receive(
        json.dumps(load("control-ui.json")["connect"]))
    assert isinstance(action, Accepted)
    params = action.params
    assert params.client.mode == "webchat"
    assert params.client.build_id is not None and params.client.time_zone == "UTC"
    assert params.device is not None and params.device.signature == "<SIGNATURE>"
    assert "tool-events" in params.caps
    assert params.auth is not None and params.auth.token == params.auth.password == TOKEN
    assert params.user_agent is not None and params.user_agent.startswith("Mozilla/5.0")
    assert params.locale == "en-US"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("where", "pointer"),
    [((), "/sneaky"), (("client",), "/client/sneaky"), (("auth",), "/auth/sneaky")],
)
def test_fixture_with_an_unknown_key_is_refused_by_name(
    name: str, where: tuple[str, ...], pointer: str
) -> None:
    fixture = load(name)
    frame = copy.deepcopy(fixture["connect"])
    target = frame["params"]
    for key in where:
        target = target[key]
    target["sneaky"] = True
    send, close = connection(fixture).receive(json.dumps(frame))
    assert isinstance(send, SendFrame) and isinstance(close, CloseConnection)
    error = json.loads(send.data)["error"]
    assert error["message"] == f"invalid connect params: at {pointer}: unknown property"
    assert close.code == CLOSE_POLICY


def test_control_ui_device_block_with_an_unknown_key_is_refused() -> None:
    fixture = load("control-ui.json")
    fixture["connect"]["params"]["device"]["keyId"] = "k"
    send, _ = connection(fixture).receive(json.dumps(fixture["connect"]))
    assert isinstance(send, SendFrame)
    message = json.loads(send.data)["error"]["message"]
    assert message == "invalid connect params: at /device/keyId: unknown property"


def test_control_ui_fixture_from_a_foreign_origin_is_refused() -> None:
    fixture = load("control-ui.json")
    fixture["upgradeHeaders"]["Origin"] = "https://evil.example"
    send, close = connection(fixture).receive(json.dumps(fixture["connect"]))
    assert isinstance(send, SendFrame) and isinstance(close, CloseConnection)
    error = json.loads(send.data)["error"]
    assert error["details"]["code"] == "CONTROL_UI_ORIGIN_NOT_ALLOWED"
    assert close.code == CLOSE_POLICY
