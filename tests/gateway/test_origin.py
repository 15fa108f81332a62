"""The browser origin check on a real socket: the Origin and Host headers of the upgrade."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from inprocess import InProcessGateway

FIXTURE = Path(__file__).parent.parent / "protocol" / "fixtures" / "control-ui.json"


def control_ui_connect(token: str) -> dict[str, Any]:
    """The Control UI's captured connect frame, with this gateway's token."""
    frame: dict[str, Any] = json.loads(FIXTURE.read_text().replace("<TOKEN>", token))["connect"]
    return frame


async def handshake(url: str, frame: dict[str, Any],
                    **kwargs: Any) -> tuple[dict[str, Any], int | None]:
    """Send ``frame`` as the first request; return the reply and the close code (or None)."""
    async with connect(kwargs.pop("uri", url), **kwargs) as ws:
        challenge = json.loads(await ws.recv())
        assert challenge["event"] == "connect.challenge"
        await ws.send(json.dumps(frame))
        reply = json.loads(await ws.recv())
        if reply["ok"]:
            return reply, None
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return reply, ws.close_code


def run(gateway: InProcessGateway, frame: dict[str, Any],
        **kwargs: Any) -> tuple[dict[str, Any], int | None]:
    return asyncio.run(handshake(gateway.url, frame, **kwargs))


def test_cross_site_origin_is_refused_before_auth(app_gateway: InProcessGateway) -> None:
    frame = control_ui_connect("not-the-token")
    reply, code = run(app_gateway, frame, origin="https://evil.example")
    assert reply["id"] == frame["id"]
    assert reply["error"]["details"] == {"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED",
                                         "reason": "origin not allowed"}
    assert code == 1008
    # not counted as an auth failure: more refusals than the loopback limit (20) allows,
    # then the right token from the same address still connects
    for _ in range(21):
        assert run(app_gateway, frame, origin="https://evil.example")[1] == 1008
    reply, code = run(app_gateway, control_ui_connect(app_gateway.token))
    assert reply["ok"] is True and code is None


def test_loopback_page_origin_connects(app_gateway: InProcessGateway) -> None:
    reply, _ = run(app_gateway, control_ui_connect(app_gateway.token),
                   origin="http://127.0.0.1:5173")
    assert reply["ok"] is True
    assert reply["payload"]["type"] == "hello-ok"


def test_same_origin_page_connects(app_gateway: InProcessGateway) -> None:
    origin = f"http://127.0.0.1:{app_gateway.port}"
    reply, _ = run(app_gateway, control_ui_connect(app_gateway.token), origin=origin)
    assert reply["ok"] is True


def test_rebinding_host_is_refused(app_gateway: InProcessGateway) -> None:
    # a public name pointed at the gateway: Origin and Host agree, but the name is not trusted
    reply, code = run(app_gateway, control_ui_connect(app_gateway.token),
                      uri="ws://rebind.example:18789", host="127.0.0.1", port=app_gateway.port,
                      origin="http://rebind.example:18789")
    assert reply["error"]["details"]["code"] == "CONTROL_UI_ORIGIN_NOT_ALLOWED"
    assert code == 1008


def test_repeated_origin_header_is_refused(app_gateway: InProcessGateway) -> None:
    # an allowed origin cannot smuggle a second one past the check
    headers = [("Origin", "https://evil.example")]
    with pytest.raises(InvalidStatus) as info:
        run(app_gateway, control_ui_connect(app_gateway.token),
            origin="http://127.0.0.1:5173", additional_headers=headers)
    assert info.value.response.status_code == 400


def test_allowed_origins_config(make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway(
        config={"gateway": {"controlUi": {"allowedOrigins": ["https://ui.example.com"]}}})
    frame = control_ui_connect(gateway.token)
    assert run(gateway, frame, origin="https://ui.example.com")[0]["ok"] is True
    reply, code = run(gateway, frame, origin="https://other.example.com")
    assert reply["ok"] is False and code == 1008


def test_clients_without_origin_are_unaffected(app_gateway: InProcessGateway) -> None:
    frame = control_ui_connect(app_gateway.token)
    assert run(app_gateway, frame)[0]["ok"] is True
