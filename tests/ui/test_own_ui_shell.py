"""The gateway's own Control UI: served from the package, connected with the token
from the URL fragment, which never reaches the server or stays in the address bar."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser import GatewayFrames
from inprocess import InProcessGateway
from ui.conftest import open_own_ui

pytestmark = pytest.mark.timeout(120)


def test_the_ui_is_served_with_a_strict_policy_and_etags(own_ui: InProcessGateway) -> None:
    base = f"http://127.0.0.1:{own_ui.port}"
    index = httpx.get(f"{base}/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    again = httpx.get(f"{base}/", headers={"If-None-Match": index.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    script = httpx.get(f"{base}/gateway.js", headers={"Accept-Encoding": "gzip"})
    assert script.headers.get("content-encoding") == "gzip"
    assert "text/javascript" in script.headers["content-type"]
    assert httpx.get(f"{base}/../../pyproject.toml").status_code == 404
    assert httpx.get(f"{base}/views/../gateway.js").status_code in (200, 404)
    # the catch-all does not turn other methods on unknown paths into 405s
    assert httpx.post(f"{base}/v1/chat/completions", json={}).status_code == 404
    refused = httpx.post(f"{base}/app.js")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


def test_the_token_in_the_fragment_connects_and_leaves_the_address_bar(
        page: Any, own_ui: InProcessGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every record the gateway makes, at every level
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    open_own_ui(page, own_ui)
    assert own_ui.token not in page.url and page.url.endswith("/#/chat")
    assert requested and all(own_ui.token not in url for url in requested)
    assert caplog.records and own_ui.token not in caplog.text


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_the_connect_form_explains_a_refusal_and_keeps_a_good_token(
        page: Any, own_ui: InProcessGateway, screenshot: Callable[[Any, str], Path]) -> None:
    base = f"http://127.0.0.1:{own_ui.port}/"
    page.goto(base)
    dialog = page.get_by_role("dialog", name="Connect to the gateway")
    expect()(dialog).to_be_visible()
    expect()(dialog.locator("#connect-reason")).to_have_text(
        "This gateway needs its token: paste it below.")
    expect()(page.locator("#connection")).to_have_text("Not connected: token refused")
    screenshot(page, "connect")
    dialog.get_by_label("Gateway token").fill("not-the-token")
    dialog.get_by_role("button", name="Connect").click()
    expect()(dialog.locator("#connect-reason")).to_have_text(
        "The gateway refused that token: paste the current one below.")
    assert page.evaluate("Object.keys(localStorage)") == []  # a refused token is not kept
    dialog.get_by_label("Gateway token").fill(own_ui.token)
    page.keyboard.press("Enter")
    expect()(page.locator("#connection")).to_have_text("Connected")
    expect()(dialog).to_be_hidden()
    # kept for this gateway (host and port) only, and used on the next visit
    stored = page.evaluate("Object.entries(localStorage)")
    assert stored == [[f"openclaw.gateway.token:127.0.0.1:{own_ui.port}", own_ui.token]]
    page.reload()
    expect()(page.locator("#connection")).to_have_text("Connected")
    expect()(dialog).to_be_hidden()


def test_a_gateway_restart_shows_reconnecting_without_a_request_storm(
        page: Any, own_ui: InProcessGateway, screenshot: Callable[[Any, str], Path],
        caplog: pytest.LogCaptureFixture) -> None:
    frames = GatewayFrames(page)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    caplog.set_level(logging.DEBUG)
    open_own_ui(page, own_ui)
    page.get_by_label("Message", exact=True).fill("remember me")
    page.keyboard.press("Enter")
    expect()(page.locator(".msg.assistant .body")).to_contain_text("(offline model)")

    own_ui.stop()  # broadcasts `shutdown`, closes every connection, frees the port
    status = page.locator("#connection")
    expect()(status).to_contain_text("Reconnecting")
    expect()(page.locator(".chat-status")).to_contain_text("Waiting for the gateway")
    screenshot(page, "reconnecting")
    before = page.evaluate("window.openclawGateway.attempts")
    sent_before = len(frames.requests())
    # a measurement window, not a wait for something: how often does it knock?
    page.wait_for_timeout(4000)
    knocks = page.evaluate("window.openclawGateway.attempts") - before
    assert 1 <= knocks <= 6, f"{knocks} connection attempts in 4 s while the gateway was down"
    assert len(frames.requests()) == sent_before, "requests were sent while disconnected"

    own_ui.start_again()
    expect()(status).to_have_text("Connected", timeout=40_000)
    # the chat view reloads itself from the restarted gateway
    expect()(page.locator(".msg.user .body")).to_have_text(["remember me"])
    reloads = [frame for frame in frames.requests() if frame["method"] == "chat.startup"]
    assert len(reloads) >= 2
    assert all(own_ui.token not in url for url in urls)
    assert all(own_ui.token not in line for line in console)
    assert caplog.records and own_ui.token not in caplog.text


def test_readable_at_360_px_with_the_sessions_behind_a_button(
        browser: Any, own_ui: InProcessGateway,
        screenshot: Callable[[Any, str], Path]) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        open_own_ui(page, own_ui)
        page.get_by_label("Message", exact=True).fill("a long message " * 12)
        page.keyboard.press("Enter")
        expect()(page.locator(".msg.assistant .body")).to_contain_text("(offline model)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        expect()(page.locator(".sessions")).to_be_hidden()
        screenshot(page, "chat-360")
        toggle = page.get_by_role("button", name="Sessions")
        toggle.click()
        expect()(toggle).to_have_attribute("aria-expanded", "true")
        expect()(page.get_by_role("button", name="New chat")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()


def _luminance(css_color: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_light_and_dark_follow_the_system(
        browser: Any, own_ui: InProcessGateway, screenshot: Callable[[Any, str], Path]) -> None:
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        try:
            page = context.new_page()
            open_own_ui(page, own_ui)
            expect()(page.get_by_label("Message", exact=True)).to_be_visible()
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            text = page.evaluate("getComputedStyle(document.body).color")
            if scheme == "dark":
                assert _luminance(background) < 0.2 < 0.8 < _luminance(text)
                screenshot(page, "chat-dark")
            else:
                assert _luminance(background) > 0.8 > 0.2 > _luminance(text)
        finally:
            context.close()


def test_the_keyboard_reaches_everything_with_a_visible_focus(
        page: Any, own_ui: InProcessGateway) -> None:
    open_own_ui(page, own_ui)
    expect()(page.get_by_label("Message", exact=True)).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect()(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0  # shown once focused
    seen: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {id: el.id, text: el.textContent.trim().slice(0, 30),
                    outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }""")
        assert focused["outline"] != "none" and focused["width"] >= 2, focused
        seen.append(focused["id"] or focused["text"])
        if focused["id"] == "chat-input":
            break
    assert "Logs" in seen and "New chat" in seen and "chat-model" in seen
    assert seen[-1] == "chat-input", seen
    page.keyboard.type("typed, not clicked")
    page.keyboard.press("Enter")
    expect()(page.locator(".msg.user .body")).to_have_text(["typed, not clicked"])
