"""The config view against a real gateway: the file shown with its secrets redacted,
an edit refused with the error at its field (nothing written), and an edit accepted
(written, and said to need a restart)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from inprocess import InProcessGateway
from ui.conftest import open_own_ui
from ui.viewkit import gateway_with, page_errors

SECRET = "sk-test-do-not-show-0123456789"


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[InProcessGateway]:
    config = {"gateway": {"bind": "loopback"},
              "models": {"providers": {"local": {"api": "openai-completions",
                                                 "baseUrl": "http://127.0.0.1:9/v1",
                                                 "apiKey": SECRET}}}}
    with gateway_with(tmp_path / "home", config) as gateway:
        yield gateway


def test_a_refused_edit_shows_at_its_field_and_an_accepted_one_says_restart(
        page: Any, configured: InProcessGateway, screenshot: Callable[[Any, str], Path]) -> None:
    errors = page_errors(page)
    path = configured.profile.config_path
    before = path.read_bytes()
    open_own_ui(page, configured, "config")
    expect(page.locator("h1")).to_have_text("Config")
    page.get_by_text("The file as the gateway reads it").click()
    expect(page.locator("#config-current")).to_contain_text("__OPENCLAW_REDACTED__")
    assert SECRET not in page.content()

    # refused: a port out of range; the gateway's reason appears under the port field
    page.locator('[data-section="gateway"] > summary').click()
    port = page.get_by_label("port", exact=True)
    port.fill("70000")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator('[data-outcome="refused"]')).to_contain_text("nothing was written")
    error = page.locator("#cfg-gateway-port-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("65535")
    expect(port).to_have_attribute("aria-invalid", "true")
    expect(port).to_be_focused()
    assert path.read_bytes() == before
    port.scroll_into_view_if_needed()
    screenshot(page, "config")

    # accepted: the file log level; the answer says it waits for a restart
    port.fill("")
    page.locator('[data-section="logging"] > summary').click()
    page.locator("#cfg-logging-level").select_option("debug")
    page.get_by_role("button", name="Save changes").click()
    saved = page.locator('[data-outcome="saved"]')
    expect(saved).to_contain_text("needs a gateway restart")
    expect(saved).to_contain_text("logging.level")
    expect(page.locator("#config-pending")).to_contain_text("logging.level")
    expect(error).to_be_hidden()
    written = json.loads(path.read_text())
    assert written["logging"]["level"] == "debug"
    assert written["models"]["providers"]["local"]["apiKey"] == SECRET  # the secret kept
    assert "port" not in written["gateway"]
    assert errors == []


def test_a_patch_for_what_the_form_cannot_edit(page: Any, own_ui: InProcessGateway) -> None:
    open_own_ui(page, own_ui, "config")
    page.get_by_label("A JSON merge patch").fill("{ messages: { retention: '48h' } }")
    page.get_by_role("button", name="Apply patch").click()
    expect(page.locator('[data-outcome="saved"]').first).to_be_visible()
    assert json.loads(own_ui.profile.config_path.read_text()) == {
        "messages": {"retention": "48h"}}
