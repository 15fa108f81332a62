"""OpenClaw's own Control UI chatting with this gateway, in a real Chromium.

The model is the fake OpenAI-compatible server (``tests/fake_models.py``) configured as
provider ``local``, with a delay between streamed pieces so that a reply reaches the
page as several ``chat`` delta events before its final. Each test drives the page the
way a person would (type into the composer, press Enter, click a session in the
sidebar) and checks both sides: what the page shows, and the frames it exchanged with
the gateway (``GatewayFrames``).

What "works" means here:

- the chat view shows no error surface (the UI's error banners, toasts, callouts and
  composer errors; see ``ERROR_SURFACES``);
- a message typed in the composer goes out once, as ``chat.send``;
- the reply streams (at least two ``delta`` events) and its final text is shown;
- the user's message is shown exactly once: the UI's own copy from its outbox is
  replaced by the persisted entry, matched by the submission identity;
- the "Working…" indicator goes away once the run has ended;
- afterwards the page is quiet: no method is called in a retry storm.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from browser import GatewayFrames, StaticServer, confirm_gateway_switch, control_ui_url
from fake_models import FakeModels
from inprocess import InProcessGateway

MAIN = "agent:main:main"
#: The UI's error surfaces, from its stylesheets: chat run errors, toasts, danger
#: callouts and banners, composer errors, history and outbox errors, a page that failed
#: to load, a session row in error.
ERROR_SURFACES = ", ".join([
    ".chat-error", ".app-toast", ".callout.danger", ".oc-banner-error",
    ".agent-chat__composer-error", ".agent-chat__disabled-banner",
    ".chat-history-error--inline", ".chat-message-load-error__retry", ".chat-notice--danger",
    ".chat-queue__error", ".lazy-view-error__icon", ".sidebar-session-error",
])
#: The chat pane on screen. The UI keeps the panes of sessions it left in the page,
#: transparent and ``aria-hidden``, to switch back fast.
CURRENT_PANE = 'openclaw-chat-pane:not([aria-hidden="true"])'
#: Requests the page may make in the idle window after a reply (3 s). An idle page
#: makes none (observed over 10 s); the bound leaves room for the refreshes a run's
#: last events start late (a history reload, sessions.describe, sessions.list, the
#: chat side panels), while a method retried in a loop makes dozens in 3 s.
IDLE_REQUESTS_MAX = 15
IDLE_WINDOW_MS = 3_000
#: More calls of one method than this in the idle window is a retry storm.
SAME_METHOD_MAX = 4


@pytest.fixture
def models(models: FakeModels) -> FakeModels:
    """The fake model server; pieces arrive 150 ms apart, so a reply streams."""
    models.delay_pieces(0.15)
    return models


def open_chat(page: Any, server: StaticServer, gateway: InProcessGateway) -> Any:
    """Open the UI on the gateway; return the chat composer once it is shown."""
    from playwright.sync_api import expect

    page.goto(control_ui_url(server, gateway.port, gateway.token))
    confirm_gateway_switch(page, gateway.port)
    composer = page.get_by_role("textbox", name="Chat composer")
    expect(composer).to_be_visible()
    return composer


def send_message(page: Any, composer: Any, text: str, reply: str) -> None:
    """Type ``text`` into the composer, press Enter, wait until ``reply`` is shown and
    the run is no longer "Working…"."""
    from playwright.sync_api import expect

    composer.fill(text)
    composer.press("Enter")
    expect(assistant_bubbles(page, reply)).to_have_count(1)
    expect(page.get_by_text(re.compile(r"^Working"))).to_have_count(0)


def user_bubbles(page: Any, text: str) -> Any:
    """The user's chat bubbles showing ``text`` in the session on screen."""
    return page.locator(f'{CURRENT_PANE} .chat-group.user .chat-bubble[data-message-text="{text}"]')


def assistant_bubbles(page: Any, text: str) -> Any:
    """The chat bubbles showing ``text`` that are not the user's, in the session on
    screen."""
    return page.locator(f'{CURRENT_PANE} .chat-group:not(.user) .chat-bubble'
                        f'[data-message-text="{text}"]')


def assert_no_error_surface(page: Any) -> None:
    """None of the UI's error banners, toasts or callouts is visible."""
    from playwright.sync_api import expect

    expect(page.locator(f"css={ERROR_SURFACES} >> visible=true")).to_have_count(0)


def sends(frames: GatewayFrames, port: int) -> list[dict[str, Any]]:
    """The ``chat.send`` params the page sent, in order."""
    return [r["params"] for r in frames.requests(port) if r["method"] == "chat.send"]


def chat_events(frames: GatewayFrames, port: int, run_id: str) -> list[dict[str, Any]]:
    """The ``chat`` event payloads of run ``run_id`` the page received, in order."""
    return [frame["payload"] for url, direction, frame in frames.frames
            if direction == "received" and f":{port}" in url and isinstance(frame, dict)
            and frame.get("type") == "event" and frame.get("event") == "chat"
            and frame["payload"].get("runId") == run_id]


def assert_quiet(page: Any, frames: GatewayFrames, port: int) -> None:
    """Over a deliberate idle window, the page makes few requests and retries none: no
    method is called more than ``SAME_METHOD_MAX`` times, and no request that failed is
    sent again with the same params (the UI's retry loops back off to about one call a
    second, so a count alone would not show them)."""
    before = len(frames.requests(port))
    page.wait_for_timeout(IDLE_WINDOW_MS)  # the one deliberate wait: nothing should happen
    requests = frames.requests(port)[before:]
    idle = Counter(r["method"] for r in requests)
    assert sum(idle.values()) <= IDLE_REQUESTS_MAX, idle
    assert all(count <= SAME_METHOD_MAX for count in idle.values()), idle
    answers = frames.responses(port)
    failed = Counter((r["method"], json.dumps(r.get("params"), sort_keys=True))
                     for r in frames.requests(port)
                     if not answers.get(r["id"], {}).get("ok", True))
    retried = {call: n for call, n in failed.items()
               if n > 1 and any(r["method"] == call[0] for r in requests)}
    assert not retried, retried


def transcript(gateway: InProcessGateway, key: str) -> list[tuple[str, str]]:
    """The session's persisted entries as (role, text)."""
    history = gateway.call("chat.history", {"sessionKey": key})
    return [(m["role"], "".join(b["text"] for b in m["content"])) for m in history["messages"]]


def test_a_message_gets_a_streamed_reply_and_shows_once(
        page: Any, gateway_frames: GatewayFrames, control_ui_server: StaticServer,
        chat_gateway: InProcessGateway, models: FakeModels) -> None:
    from playwright.sync_api import expect

    reply = "Two plus three is five, as streamed in pieces."
    models.reply(reply, pieces=4)
    composer = open_chat(page, control_ui_server, chat_gateway)
    assert_no_error_surface(page)

    send_message(page, composer, "what is 2+3", reply)

    [sent] = sends(gateway_frames, chat_gateway.port)
    assert sent["sessionKey"] == MAIN and sent["message"] == "what is 2+3"
    events = chat_events(gateway_frames, chat_gateway.port, sent["idempotencyKey"])
    states = [event["state"] for event in events]
    assert states.count("delta") >= 2 and states[-1] == "final", states
    assert "".join(b["text"] for b in events[-1]["message"]["content"]) == reply

    assert_quiet(page, gateway_frames, chat_gateway.port)
    # after the history reloads the idle window let happen, still one copy
    expect(user_bubbles(page, "what is 2+3")).to_have_count(1)
    expect(assistant_bubbles(page, reply)).to_have_count(1)
    assert_no_error_surface(page)
    assert transcript(chat_gateway, MAIN) == [("user", "what is 2+3"), ("assistant", reply)]


def test_a_second_message_in_the_same_session(
        page: Any, gateway_frames: GatewayFrames, control_ui_server: StaticServer,
        chat_gateway: InProcessGateway, models: FakeModels) -> None:
    from playwright.sync_api import expect

    models.queue_replies([("First answer here.", 3), ("Second answer here.", 3)])
    composer = open_chat(page, control_ui_server, chat_gateway)
    send_message(page, composer, "first question", "First answer here.")
    send_message(page, composer, "second question", "Second answer here.")

    assert [(s["sessionKey"], s["message"]) for s in sends(gateway_frames, chat_gateway.port)
            ] == [(MAIN, "first question"), (MAIN, "second question")]
    assert_quiet(page, gateway_frames, chat_gateway.port)
    for text in ("first question", "second question"):
        expect(user_bubbles(page, text)).to_have_count(1)
    expect(assistant_bubbles(page, "First answer here.")).to_have_count(1)
    assert_no_error_surface(page)
    assert [role for role, _ in transcript(chat_gateway, MAIN)] == [
        "user", "assistant", "user", "assistant"]


def test_switching_sessions_in_the_sidebar(
        page: Any, gateway_frames: GatewayFrames, control_ui_server: StaticServer,
        chat_gateway: InProcessGateway, models: FakeModels) -> None:
    """The sidebar lists sessions other than the main one (which is "Home"); opening
    one shows its transcript and sends to it. (The UI's "New conversation" stays
    disabled: it creates sessions with ``sessions.create``, which this gateway does not
    offer; a session starts with its first message or a label instead.)"""
    from playwright.sync_api import expect

    work = "agent:main:work"
    chat_gateway.call("chat.inject", {"sessionKey": work, "message": "Notes for work."})
    chat_gateway.call("sessions.patch", {"key": work, "label": "Work"})
    models.reply("On it now.", pieces=3)
    composer = open_chat(page, control_ui_server, chat_gateway)

    page.locator(".sidebar-recent-session, nav, aside").get_by_text(
        "Work", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/chat/main/work$"))
    expect(assistant_bubbles(page, "Notes for work.")).to_have_count(1)
    send_message(page, composer, "a task for work", "On it now.")

    assert [(s["sessionKey"], s["message"]) for s in sends(gateway_frames, chat_gateway.port)
            ] == [(work, "a task for work")]
    assert_no_error_surface(page)
    assert transcript(chat_gateway, work) == [
        ("assistant", "Notes for work."), ("user", "a task for work"),
        ("assistant", "On it now.")]
    assert transcript(chat_gateway, MAIN) == []

    page.get_by_role("link", name="Home").first.click()  # back to the main session
    expect(page).to_have_url(re.compile(r"/chat/main$"))
    expect(page.get_by_text("Main Session", exact=True)).to_be_visible()
    expect(user_bubbles(page, "a task for work")).to_have_count(0)
