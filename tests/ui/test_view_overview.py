"""The overview view against a real gateway: health, version, process, service state,
the model, and presence updated live by events."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from inprocess import InProcessGateway
from openclaw import __version__
from ui.conftest import open_own_ui
from ui.viewkit import page_errors


def field(page: Any, name: str) -> Any:
    return page.locator(f'[data-field="{name}"]')


def test_overview_shows_the_gateway_and_follows_presence_and_health(
        page: Any, own_ui: InProcessGateway, screenshot: Callable[[Any, str], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # as a unit written by `gateway install` would start it under systemd
    monkeypatch.setenv("INVOCATION_ID", "4f1c")
    monkeypatch.setenv("OPENCLAW_SERVICE_MARKER", "openclaw")
    monkeypatch.setenv("OPENCLAW_SERVICE_KIND", "gateway")
    monkeypatch.setenv("OPENCLAW_SERVICE_NAME", "openclaw-gateway.service")
    monkeypatch.setenv("OPENCLAW_SERVICE_VERSION", __version__)
    errors = page_errors(page)
    open_own_ui(page, own_ui, "overview")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(field(page, "health")).to_have_text("Healthy")
    expect(field(page, "version")).to_have_text(__version__)
    expect(field(page, "pid")).to_have_text(str(os.getpid()))
    expect(field(page, "port")).to_have_text(str(own_ui.port))
    expect(field(page, "auth")).to_have_text("token")
    expect(field(page, "rss")).to_have_text(re.compile(r"^\d+(\.\d)? (KB|MB|GB)$"))
    expect(field(page, "uptime")).to_have_text(re.compile(r"^\d+(s|m \d\ds)$"))
    expect(field(page, "config-path")).to_contain_text(str(own_ui.profile.config_path))
    expect(field(page, "config-path")).to_contain_text("missing: built-in defaults")
    expect(field(page, "service-manager")).to_have_text("systemd")
    expect(field(page, "service-name")).to_have_text("openclaw-gateway.service")
    expect(field(page, "model")).to_have_text("offline/echo")
    expect(field(page, "model-kind")).to_contain_text("Offline")
    expect(field(page, "heartbeat")).to_have_text("every 30m")
    presence = page.locator("#presence tbody tr")
    expect(presence.first).to_contain_text("this gateway")
    expect(page.locator("#presence")).to_contain_text("Control UI")  # the page itself

    # a `presence` event: a new client is listed without a reload
    own_ui.call("system-event", {"text": "kitchen tablet online", "host": "kitchen-tablet",
                                 "mode": "ui", "platform": "android"})
    expect(page.locator("#presence")).to_contain_text("kitchen-tablet")
    # a `health` event: heartbeats switched off elsewhere
    own_ui.call("set-heartbeats", {"enabled": False})
    expect(field(page, "heartbeat")).to_have_text("off")
    own_ui.call("set-heartbeats", {"enabled": True})
    expect(field(page, "heartbeat")).to_have_text("every 30m")
    expect(page.locator("#view")).not_to_contain_text("null")
    screenshot(page, "overview")
    assert errors == []


def test_overview_says_when_the_gateway_was_started_by_hand(
        page: Any, own_ui: InProcessGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INVOCATION_ID", "NOTIFY_SOCKET", "XPC_SERVICE_NAME", "OPENCLAW_SERVICE_MARKER"):
        monkeypatch.delenv(name, raising=False)
    open_own_ui(page, own_ui, "overview")
    expect(field(page, "service-state")).to_contain_text("Started by hand")
    expect(field(page, "service-manager")).to_have_text("none")
