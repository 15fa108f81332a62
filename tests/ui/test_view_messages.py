"""The messages view against a real gateway and the fake Bot API: inbound messages
listed and followed, a send delivered exactly once under the key the form shows, and
the three outcomes (sent, failed, outcome unknown) told apart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from fake_telegram import FakeTelegram, gateway_config
from inprocess import InProcessGateway
from ui.conftest import open_own_ui
from ui.viewkit import gateway_with, page_errors

ALLOWED = 4242


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-token-abc") as fake:
        yield fake


@pytest.fixture
def with_telegram(tmp_path: Path, telegram: FakeTelegram) -> Iterator[InProcessGateway]:
    config = {**gateway_config(telegram, [ALLOWED]),
              # no assistant replies: the fake's sent list holds only the page's sends
              "agents": {"defaults": {"replyToChannels": False}}}
    with gateway_with(tmp_path / "home", config) as gateway:
        yield gateway


def test_inbound_messages_and_a_send_delivered_once(
        page: Any, with_telegram: InProcessGateway, telegram: FakeTelegram,
        screenshot: Callable[[Any, str], Path]) -> None:
    errors = page_errors(page)
    telegram.push_message(ALLOWED, "stored before the page opened", from_id=ALLOWED)
    wait_for_inbox(with_telegram, 1)
    open_own_ui(page, with_telegram, "messages")
    rows = page.locator("#inbox tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("stored before the page opened")
    telegram.push_message(ALLOWED, "arrived while watching", from_id=ALLOWED)
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("arrived while watching")  # newest first

    # Reply fills the chat id; the key on the form is the one the gateway records
    rows.first.get_by_role("button", name=f"Reply to chat {ALLOWED}").click()
    expect(page.locator("#send-to")).to_have_value(str(ALLOWED))
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    page.get_by_label("Message", exact=True).fill("hello from the control ui")
    key = page.locator("#send-key").input_value()
    assert key.startswith("ui-")
    page.get_by_role("button", name="Send", exact=True).click()
    outcome = page.locator("#send-outcome [data-outcome]")
    expect(outcome).to_have_attribute("data-outcome", "sent")
    expect(outcome).to_contain_text(f"key {key}")
    # the same key again (a double click, a retry): the stored answer, no second post
    page.get_by_role("button", name="Send", exact=True).click()
    expect(outcome).to_have_attribute("data-outcome", "sent")
    assert telegram.sent_texts() == ["hello from the control ui"]
    # editing after a success takes a new key for the new message
    page.get_by_label("Message", exact=True).fill("a second message")
    assert page.locator("#send-key").input_value() != key
    screenshot(page, "messages")
    assert errors == []


def test_a_refused_send_and_an_unknown_outcome_are_told_apart(
        page: Any, with_telegram: InProcessGateway, telegram: FakeTelegram) -> None:
    open_own_ui(page, with_telegram, "messages")
    page.get_by_label("To (chat id)").fill("777")
    page.get_by_label("Message", exact=True).fill("to a chat that is gone")
    telegram.fail_next("sendMessage", 400, "Bad Request: chat not found")
    page.get_by_role("button", name="Send", exact=True).click()
    outcome = page.locator("#send-outcome [data-outcome]")
    expect(outcome).to_have_attribute("data-outcome", "failed")
    expect(outcome).to_contain_text("chat not found")
    assert telegram.sent_texts() == []

    # an unknown outcome, as the gateway reports it after a timeout on Telegram's side
    page.locator("#send-new-key").click()
    page.evaluate("""() => {
      const gw = window.openclawGateway;
      const real = gw.call.bind(gw);
      gw.call = (method, params, opts) => method !== "send" ? real(method, params, opts)
        : Promise.reject(Object.assign(new Error(
            "send ui-x: outcome unknown (the message may have been delivered)"),
            {code: "UNAVAILABLE", details: {reason: "outcome-unknown"}}));
    }""")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(outcome).to_have_attribute("data-outcome", "unknown")
    expect(outcome).to_contain_text("Outcome unknown")


def wait_for_inbox(gateway: InProcessGateway, count: int) -> None:
    """Until ``count`` messages are stored (asked over the wire, at most 10 s)."""
    deadline = time.monotonic() + 10
    while len(gateway.call("messages.list")["messages"]) < count:
        assert time.monotonic() < deadline, "the message never reached the inbox"
        time.sleep(0.05)
