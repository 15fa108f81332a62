"""OpenClaw's own Control UI, in a real Chromium, gets past the handshake with this gateway."""

from __future__ import annotations

from typing import Any

from browser import GatewayFrames, StaticServer, confirm_gateway_switch, control_ui_url
from inprocess import InProcessGateway


def test_control_ui_connects(page: Any, gateway_frames: GatewayFrames,
                             control_ui_server: StaticServer,
                             ui_gateway: InProcessGateway) -> None:
    from playwright.sync_api import expect

    page.goto(control_ui_url(control_ui_server, ui_gateway.port, ui_gateway.token))
    confirm_gateway_switch(page, ui_gateway.port)
    # the app shell with its composer replaces the login gate once hello-ok is in
    expect(page.get_by_text("Message Assistant")).to_be_visible()
    expect(page.locator(".login-gate")).to_have_count(0)

    requests = gateway_frames.requests(ui_gateway.port)
    connect = requests[0]
    assert connect["method"] == "connect"
    assert connect["params"]["client"]["id"] == "openclaw-control-ui"
    hello = gateway_frames.responses(ui_gateway.port)[connect["id"]]
    assert hello["ok"] is True and hello["payload"]["type"] == "hello-ok"
    assert len(requests) > 1  # it went on to use the connection

    async def clients() -> list[tuple[str, str]]:
        assert ui_gateway.app is not None
        return [(s.params.client.id, s.params.client.mode)
                for s in ui_gateway.app.bus.sessions.values()]

    assert ("openclaw-control-ui", "webchat") in ui_gateway.run(clients())
