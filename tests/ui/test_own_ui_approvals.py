"""Exec approvals in the gateway's own Control UI, in a real Chromium: a command the
offline model runs from a chat waits for the owner; the shell shows the prompt with the
command, the session and the time left, and its buttons answer ``exec.approval.resolve``.
The gateway runs on the fresh-install defaults, where exec asks on every command it does
not know."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import RawClient
from inprocess import InProcessGateway
from ui.conftest import open_own_ui

pytestmark = pytest.mark.timeout(120)


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def send(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def test_allow_once_from_the_page_runs_the_command_and_deny_refuses_it(
        page: Any, own_ui: InProcessGateway, screenshot: Callable[[Any, str], Path]) -> None:
    open_own_ui(page, own_ui)
    region = page.get_by_role("region", name="Exec approvals")
    expect()(region).to_be_hidden()
    send(page, "run `echo hi`")
    prompt = region.get_by_role("group", name="The agent wants to run a command")
    expect()(prompt.locator(".approval-command")).to_have_text("echo hi")
    expect()(prompt.locator(".approval-session")).to_have_text("agent:main:main")
    expect()(prompt.locator(".approval-left")).to_contain_text("left")
    assert own_ui.call("exec.approval.list")[0]["request"]["command"] == "echo hi"
    screenshot(page, "approval")
    # reachable by keyboard: the next Tab stop after the header's links, before the view
    page.get_by_role("link", name="Config").focus()
    page.keyboard.press("Tab")
    allow = prompt.get_by_role("button", name="Allow once")
    expect()(allow).to_be_focused()
    page.keyboard.press("Enter")
    expect()(region).to_be_hidden()
    reply = page.locator(".msg.assistant").last
    expect()(reply).to_contain_text("hi")
    expect()(reply).to_contain_text("exit code 0")
    assert own_ui.call("exec.approval.list") == []

    send(page, "run `echo second`")
    prompt = region.locator(".approval")
    expect()(prompt.locator(".approval-command")).to_have_text("echo second")
    prompt.get_by_role("button", name="Deny").click()
    expect()(region).to_be_hidden()
    expect()(page.locator(".msg.assistant").last).to_contain_text("denied")
    assert own_ui.call("exec.approval.list") == []


def test_pending_requests_load_on_connect_and_go_when_another_client_answers(
        page: Any, own_ui: InProcessGateway) -> None:
    asker = RawClient(own_ui.url)
    asker.handshake(own_ui.token)
    asker.send({"type": "req", "id": "early", "method": "agent",
                "params": {"message": "run `echo early`", "idempotencyKey": "early"}})
    assert asker.response("early")["ok"]
    requested = asker.next_event("exec.approval.requested")["payload"]
    # the page opens after the request went out: it loads it with exec.approval.list
    open_own_ui(page, own_ui)
    prompt = page.locator(f'.approval[data-approval-id="{requested["id"]}"]')
    expect()(prompt.locator(".approval-command")).to_have_text("echo early")
    # "Always allow" is offered, with the decision value the method takes
    expect()(prompt.locator("button[data-decision]")).to_have_count(3)
    assert prompt.get_by_role("button", name="Always allow").get_attribute(
        "data-decision") == "allow-always"
    answer = asker.request("exec.approval.resolve", {"id": requested["id"],
                                                     "decision": "allow-once"})
    assert answer["ok"], answer
    expect()(prompt).to_have_count(0)
    expect()(page.get_by_role("region", name="Exec approvals")).to_be_hidden()
    final = asker.response("early", 30)["payload"]
    assert final["status"] == "ok" and "early" in final["result"]["payloads"][0]["text"]
