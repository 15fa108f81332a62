"""The channels view against a real gateway with two Telegram accounts: one connected
to the fake Bot API, one pointed at a closed port (its error and next retry shown)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from fake_telegram import FakeTelegram, gateway_config
from harness import free_port
from inprocess import InProcessGateway
from ui.conftest import open_own_ui
from ui.viewkit import gateway_with, page_errors

ALLOWED = 4242


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-token-abc") as fake:
        yield fake


@pytest.fixture
def two_accounts(tmp_path: Path, telegram: FakeTelegram) -> Iterator[InProcessGateway]:
    config = gateway_config(telegram, [ALLOWED], accounts={
        "broken": {"botToken": "999:BROKEN-token", "apiRoot": f"http://127.0.0.1:{free_port()}"}})
    with gateway_with(tmp_path / "home", config) as gateway:
        yield gateway


def account(page: Any, name: str) -> Any:
    return page.locator(f'[data-account="telegram/{name}"]')


def test_channels_show_each_account_live(
        page: Any, two_accounts: InProcessGateway, telegram: FakeTelegram,
        screenshot: Callable[[Any, str], Path]) -> None:
    errors = page_errors(page)
    open_own_ui(page, two_accounts, "channels")
    expect(page.locator("h1")).to_have_text("Channels")
    expect(page.locator('[data-channel="telegram"] h2')).to_have_text("Telegram")
    expect(page.locator('[data-field="login"]')).to_contain_text("No login flow")

    good = account(page, "default")
    expect(good.locator('[data-field="state"]')).to_have_text("Connected")
    expect(good.locator('[data-field="bot"]')).to_have_text(f"@{telegram.bot_user()['username']}")
    expect(good.locator('[data-field="last-error"]')).to_have_text("none")
    expect(good.locator('[data-field="last-inbound"]')).to_have_text("never")

    bad = account(page, "broken")
    expect(bad.locator('[data-field="state"]')).to_have_text("Disconnected")
    expect(bad.locator('[data-field="last-error"]')).to_contain_text("getMe")
    expect(bad.locator('[data-field="next-retry"]')).to_have_text(re.compile(r"^(in \d+s|now)$"))
    expect(bad.locator('[data-field="bot"]')).to_have_text("not known until it connects")

    # inbound and outbound times follow without a reload
    telegram.push_message(ALLOWED, "hello from the phone", from_id=ALLOWED)
    expect(good.locator('[data-field="last-inbound"]')).to_have_text(
        re.compile(r"just now|\ds ago"))
    two_accounts.call("send", {"to": str(ALLOWED), "message": "hi", "idempotencyKey": "ch-1"})
    expect(good.locator('[data-field="last-outbound"]')).to_have_text(
        re.compile(r"just now|\ds ago"))
    screenshot(page, "channels")
    assert errors == []


def test_channels_fit_a_phone_screen(page: Any, two_accounts: InProcessGateway) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    open_own_ui(page, two_accounts, "channels")
    expect(account(page, "broken").locator('[data-field="state"]')).to_have_text("Disconnected")
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 360, f"the page is {overflow}px wide at a 360px viewport"
    # keyboard: the nav is reachable by Tab and moves to another view with Enter
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Chat"


def test_no_channel_configured_says_how_to_add_one(page: Any, own_ui: InProcessGateway) -> None:
    open_own_ui(page, own_ui, "channels")
    expect(page.locator('[data-field="no-channels"]')).to_contain_text("No channel is configured")
