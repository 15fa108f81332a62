"""``gateway.service``: what the process knows about its own supervision."""

from __future__ import annotations

import pytest

from inprocess import InProcessGateway
from openclaw import __version__
from openclaw.gateway.methods.service import service_state


def test_a_gateway_started_by_hand_is_not_supervised(
        app_gateway: InProcessGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INVOCATION_ID", "NOTIFY_SOCKET", "XPC_SERVICE_NAME", "OPENCLAW_SERVICE_MARKER",
                 "OPENCLAW_SERVICE_KIND", "OPENCLAW_SERVICE_NAME", "OPENCLAW_SERVICE_VERSION"):
        monkeypatch.delenv(name, raising=False)
    assert app_gateway.call("gateway.service") == {
        "supervised": False, "manager": None, "installed": False, "serviceName": None,
        "installedVersion": None, "version": __version__, "versionMatches": None}


def test_the_markers_of_an_installed_unit_are_reported(
        app_gateway: InProcessGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOCATION_ID", "0123abcd")
    monkeypatch.setenv("OPENCLAW_SERVICE_MARKER", "openclaw")
    monkeypatch.setenv("OPENCLAW_SERVICE_KIND", "gateway")
    monkeypatch.setenv("OPENCLAW_SERVICE_NAME", "openclaw-gateway.service")
    monkeypatch.setenv("OPENCLAW_SERVICE_VERSION", "0.0.1")
    state = app_gateway.call("gateway.service")
    assert state["supervised"] is True and state["manager"] == "systemd"
    assert state["installed"] is True and state["serviceName"] == "openclaw-gateway.service"
    assert state["installedVersion"] == "0.0.1" and state["versionMatches"] is False


def test_launchd_and_a_terminal_on_macos_are_told_apart() -> None:
    assert service_state({"XPC_SERVICE_NAME": "ai.openclaw.gateway"})["manager"] == "launchd"
    assert service_state({"XPC_SERVICE_NAME": "0"})["supervised"] is False
    other_kind = {"OPENCLAW_SERVICE_MARKER": "openclaw", "OPENCLAW_SERVICE_KIND": "node"}
    assert service_state(other_kind)["installed"] is False
