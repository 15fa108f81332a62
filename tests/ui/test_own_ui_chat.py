"""The Control UI's chat view in a real Chromium, against a gateway whose model is the
OpenAI-compatible fake on loopback, so replies really stream through the gateway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fake_models import FakeModels
from inprocess import InProcessGateway
from ui.conftest import open_own_ui

pytestmark = pytest.mark.timeout(120)

TOKEN_FREE = "the token must not appear"




def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def send(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def test_a_reply_streams_in_and_is_rendered_as_markdown(
        page: Any, chat_gateway: InProcessGateway, models: FakeModels,
        screenshot: Callable[[Any, str], Path]) -> None:
    models.reply("Here is **bold** and a list:\n\n- one\n- two\n\nDone.",
                 pieces=["Here is ", "**bold** and", " a list:\n\n- one\n", "- two\n\nDone."])
    models.delay_pieces(0.3)
    page.add_init_script("window.openclawChatTimings = [];")
    open_own_ui(page, chat_gateway)
    expect()(page.get_by_text("No messages yet")).to_be_visible()
    send(page, "show me markdown")
    reply = page.locator(".msg.assistant").last
    # the first pieces are on screen while the stream still runs
    expect()(reply.locator(".body")).to_contain_text("Here is")
    expect()(reply).to_have_class("msg assistant streaming")
    expect()(reply.locator("strong")).to_have_text("bold")
    expect()(reply).not_to_have_class("msg assistant streaming")
    expect()(reply.locator("li")).to_have_text(["one", "two"])
    timings = page.evaluate("window.openclawChatTimings")
    lengths = [entry["chars"] for entry in timings]
    assert len(lengths) >= 2 and lengths == sorted(lengths) and lengths[0] < lengths[-1], \
        f"the reply must render progressively, rendered lengths: {lengths}"
    expect()(page.locator(".msg.user .body")).to_have_text("show me markdown")
    expect()(page.locator(".session[aria-current=true] .session-preview")).to_contain_text("Done.")
    sent = models.bodies("openai")[-1]
    assert sent["messages"][-1]["content"] == "show me markdown"
    screenshot(page, "chat")


def test_a_running_reply_can_be_stopped(
        page: Any, chat_gateway: InProcessGateway, models: FakeModels,
        screenshot: Callable[[Any, str], Path]) -> None:
    models.reply("The first part, then more", pieces=["The first part,", " then more"])
    models.stall_next("openai", after_pieces=1)
    open_own_ui(page, chat_gateway)
    send(page, "tell me a long story")
    reply = page.locator(".msg.assistant").last
    expect()(reply.locator(".body")).to_have_text("The first part,")
    page.get_by_role("button", name="Stop").click()
    expect()(reply.locator(".badge")).to_have_text("Stopped")
    expect()(reply).to_contain_text("Reply stopped")
    expect()(page.get_by_role("button", name="Send")).to_be_visible()
    runs = chat_gateway.call("agent.wait", {"runId": reply.get_attribute("data-run-id")})
    assert runs["status"] != "ok"
    screenshot(page, "chat-aborted")


def test_sessions_new_rename_switch_reset_and_delete(
        page: Any, chat_gateway: InProcessGateway, models: FakeModels,
        screenshot: Callable[[Any, str], Path]) -> None:
    open_own_ui(page, chat_gateway)
    send(page, "hello main")
    expect()(page.locator(".msg.assistant .body")).to_have_text("echo: hello main")

    page.get_by_role("button", name="New chat").click()
    expect()(page.get_by_text("No messages yet")).to_be_visible()
    current = page.locator(".session[aria-current=true]")
    new_key = current.get_attribute("data-key")
    assert new_key and new_key.startswith("agent:main:chat-")
    send(page, "hello new")
    expect()(page.locator(".msg.assistant .body")).to_have_text("echo: hello new")

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Name (empty for none)").fill("Trip plans")
    page.keyboard.press("Enter")
    expect()(page.locator("#chat-title")).to_have_text("Trip plans")
    expect()(current.locator(".session-title")).to_have_text("Trip plans")
    described = chat_gateway.call("sessions.describe", {"key": new_key})["session"]
    assert described["label"] == "Trip plans"

    # switching shows the other transcript, and back
    page.locator(".session[data-key='agent:main:main']").click()
    expect()(page.locator(".msg.user .body")).to_have_text(["hello main"])
    page.locator(f".session[data-key='{new_key}']").click()
    expect()(page.locator(".msg.user .body")).to_have_text(["hello new"])
    screenshot(page, "chat-sessions")

    # delete asks first: cancelling keeps the chat
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect()(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Cancel").click()
    expect()(dialog).to_be_hidden()
    assert chat_gateway.call("sessions.describe", {"key": new_key})["session"] is not None
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect()(page.locator(f".session[data-key='{new_key}']")).to_have_count(0)
    expect()(page.locator(".session[aria-current=true]")).to_have_attribute(
        "data-key", "agent:main:main")
    assert chat_gateway.call("sessions.describe", {"key": new_key})["session"] is None
    expect()(page.get_by_role("button", name="Delete")).to_be_disabled()  # main stays

    page.get_by_role("button", name="Reset").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    expect()(page.get_by_text("No messages yet")).to_be_visible()
    assert chat_gateway.call("chat.history", {"sessionKey": "main"})["messages"] == []


def test_the_model_is_shown_and_switchable_per_session(
        page: Any, chat_gateway: InProcessGateway, models: FakeModels) -> None:
    open_own_ui(page, chat_gateway)
    model = page.get_by_label("Model", exact=True)
    expect()(model).to_have_value("local/test-model")
    expect()(page.locator(".model-note")).to_have_text("The gateway's default.")
    model.select_option("offline/echo")
    expect()(page.locator(".model-note")).to_contain_text("offline model")
    row = chat_gateway.call("sessions.describe", {"key": "main"})["session"]
    assert row["modelOverride"] == "offline/echo"
    send(page, "what is 2+3")
    expect()(page.locator(".msg.assistant .body")).to_contain_text("(offline model)")
    assert models.bodies("openai") == []
    model.select_option("local/test-model")  # the default again: the override is cleared
    expect()(page.locator(".model-note")).to_have_text("The gateway's default.")
    assert chat_gateway.call("sessions.describe", {"key": "main"})["session"][
        "modelOverride"] is None


XSS_REPLY = "\n".join([
    'An image: <img src=x onerror="window.__xss = 1">',
    "<script>window.__xss = 2</script>",
    "[click me](javascript:window.__xss=3) and [tab](java\tscript:window.__xss=4)",
    "[data](data:text/html,<script>window.__xss=5</script>) ![pic](x)",
    "[safe](https://example.com/a?b=1) <https://example.org> `<b>code</b>`",
    "```html", '<iframe src="javascript:window.__xss=6"></iframe>', "```",
])


def test_model_output_cannot_inject_markup_or_script(
        page: Any, chat_gateway: InProcessGateway, models: FakeModels,
        screenshot: Callable[[Any, str], Path]) -> None:
    models.reply(XSS_REPLY, pieces=3)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_own_ui(page, chat_gateway)
    send(page, "be nasty")
    body = page.locator(".msg.assistant .body")
    expect()(body).to_contain_text('<img src=x onerror="window.__xss = 1">')
    expect()(body).to_contain_text("<script>window.__xss = 2</script>")
    assert body.locator("img, script, iframe, object, embed, svg, style").count() == 0
    hrefs = body.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.com/a?b=1", "https://example.org/"]
    assert body.locator("a").evaluate_all(
        "links => links.every(a => a.rel.includes('noopener') && a.target === '_blank')")
    unsafe = body.locator(".md-unsafe-link")
    # javascript: and the relative image "x" are kept as inert text; the tab and the
    # markup inside the other two URLs stop them from being links at all
    expect()(unsafe).to_have_text(["click me", "image: pic"])
    expect()(body).to_contain_text("[data](data:text/html,")
    unsafe.first.click()
    expect()(body.locator("code").first).to_have_text("<b>code</b>")
    # the transcript as reloaded from the gateway renders the same inert text
    page.reload()
    expect()(page.locator(".msg.assistant .body")).to_contain_text("<script>")
    assert page.evaluate("window.__xss") is None and dialogs == []
    screenshot(page, "chat-markdown-safety")


MARKDOWN_FUZZ = r"""
(async () => {
  const { renderMarkdown } = await import("/markdown.js");
  const allowed = new Set(["P","BR","STRONG","EM","DEL","CODE","PRE","A","SPAN","H3","H4","H5",
    "H6","HR","BLOCKQUOTE","UL","OL","LI","TABLE","THEAD","TBODY","TR","TH","TD","DIV"]);
  const attrs = new Set(["href","target","rel","class","title","data-lang","start"]);
  const pieces = ["<", ">", "img", "script", "onerror=", "javascript:", "[", "]", "(", ")",
    "*", "_", "`", "~~", "#", "- ", "1. ", "> ", "|", "---", "\n", "\n\n", "http://a.b/",
    "\\", "\"", "'", "x", " ", "```", "<a href=javascript:1>", "&lt;", "![", "data:"];
  let seed = 7;
  const random = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const bad = [];
  for (let round = 0; round < 400; round++) {
    let text = "";
    for (let i = random(40); i >= 0; i--) text += pieces[random(pieces.length)];
    const holder = document.createElement("div");
    holder.append(...renderMarkdown(text));
    for (const el of holder.querySelectorAll("*")) {
      if (!allowed.has(el.tagName)) bad.push([text, el.tagName]);
      for (const a of el.attributes) if (!attrs.has(a.name)) bad.push([text, a.name]);
      const href = el.getAttribute("href");
      if (el.tagName === "A" && !/^(https?:|mailto:)/.test(href)) bad.push([text, href]);
    }
  }
  return bad.slice(0, 5);
})()
"""


def test_the_markdown_renderer_only_builds_its_own_elements(
        page: Any, chat_gateway: InProcessGateway) -> None:
    open_own_ui(page, chat_gateway)
    assert page.evaluate(MARKDOWN_FUZZ) == []
