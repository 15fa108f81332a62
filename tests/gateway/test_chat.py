"""Chat and session methods on the in-process gateway: chat.send and its events,
idempotency, abort, history pages and catch-up, inject, subscriptions, session
metadata, reset and delete, sessions.list params."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fake_models import FakeModels
from harness import RawClient
from inprocess import InProcessGateway

MAIN = "agent:main:main"


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


def fake_config(models: FakeModels, default: str = "local/test-model") -> dict[str, Any]:
    """The fake model server as provider ``local``; ``default`` is the default model."""
    return {"agents": {"defaults": {"model": default}},
            "models": {"providers": {"local": {"api": "openai-completions",
                                               "baseUrl": models.openai_base_url,
                                               "apiKey": "test-key"}}}}


connect = RawClient.to
ok = RawClient.payload


def error(raw: RawClient, method: str, params: dict[str, Any]) -> dict[str, Any]:
    reply = raw.request(method, params)
    assert not reply["ok"], reply
    return dict(reply["error"])


def until(raw: RawClient, stop: Callable[[dict[str, Any]], bool],
          timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every event frame up to and including the first for which ``stop`` is true."""
    seen: list[dict[str, Any]] = []
    while raw.events:
        frame = raw.events.pop(0)
        seen.append(frame)
        if frame.get("type") == "event" and stop(frame):
            return seen
    while True:
        frame = raw.recv(timeout)
        seen.append(frame)
        if frame.get("type") == "event" and stop(frame):
            return seen


def terminal(run_id: str) -> Callable[[dict[str, Any]], bool]:
    """Stop at the run's last chat event."""
    return lambda f: (f["event"] == "chat" and f["payload"]["runId"] == run_id
                      and f["payload"]["state"] in ("final", "aborted", "error"))


def chat_events(frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f["payload"] for f in frames
            if f.get("event") == "chat" and f["payload"]["runId"] == run_id]


def text_of(message: dict[str, Any]) -> str:
    return "".join(block["text"] for block in message["content"])


def send(raw: RawClient, key: str, message: str, session: str = MAIN,
         **extra: Any) -> dict[str, Any]:
    """chat.send, then wait for its terminal chat event; return that event."""
    ack = ok(raw, "chat.send", {"sessionKey": session, "message": message,
                                "idempotencyKey": key, **extra})
    assert ack["runId"] == key
    return chat_events(until(raw, terminal(key)), key)[-1]


# ---------------------------------------------------------------------- chat.send


def test_send_streams_deltas_with_the_cumulative_message_then_final(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=fake_config(models))
    models.reply("one two three", ["one ", "two ", "three"])
    models.delay_pieces(0.05)  # three separate model chunks, so three deltas
    raw = connect(gateway)
    ack = ok(raw, "chat.send", {"sessionKey": MAIN, "message": "count", "deliver": False,
                                "expectedLeafEntryId": None, "thinking": "low",
                                "idempotencyKey": "run-1"})
    assert ack["status"] == "started" and ack["runId"] == "run-1"
    frames = until(raw, terminal("run-1"))
    events = chat_events(frames, "run-1")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    deltas, final = events[:-1], events[-1]
    assert [e["state"] for e in deltas] == ["delta"] * 3
    so_far = ""
    for event in deltas:
        so_far += event["deltaText"]
        assert event["sessionKey"] == MAIN and event["agentId"] == "main"
        assert event["message"]["role"] == "assistant"
        assert text_of(event["message"]) == so_far
    assert so_far == "one two three"
    assert final["state"] == "final" and text_of(final["message"]) == "one two three"
    assert final["stopReason"] is not None
    agent_events = [f for f in frames if f.get("event") == "agent"]
    assert agent_events and agent_events[0]["payload"]["data"]["sessionKey"] == "main"
    history = ok(raw, "sessions.history", {"sessionKey": "main"})["turns"]
    assert [(t["role"], t["text"]) for t in history] == [("user", "count"),
                                                         ("assistant", "one two three")]


def test_send_is_idempotent_per_key_and_refuses_a_reused_key(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=fake_config(models))
    models.stall_next("openai", after_pieces=1)
    models.reply("first answer", ["first ", "answer"])
    raw = connect(gateway)
    params = {"sessionKey": MAIN, "message": "hello", "idempotencyKey": "k1"}
    assert ok(raw, "chat.send", params)["status"] == "started"
    until(raw, lambda f: f["event"] == "chat" and f["payload"]["state"] == "delta")
    again = ok(raw, "chat.send", params)
    assert again == {"runId": "k1", "status": "in_flight"}
    refused = error(raw, "chat.send", {**params, "message": "something else"})
    assert refused["code"] == "INVALID_REQUEST"
    assert refused["details"]["reason"] == "idempotency-key-reused"
    other = error(raw, "chat.send", {**params, "sessionKey": "agent:main:other"})
    assert other["code"] == "INVALID_REQUEST"
    models.release()
    until(raw, terminal("k1"))
    assert ok(raw, "chat.send", params) == {"runId": "k1", "status": "ok"}
    assert error(raw, "chat.send", {**params, "message": "changed"})["code"] == "INVALID_REQUEST"
    assert len(models.bodies("openai")) == 1  # one run, one model call


def test_attachments_are_accepted_and_noted_for_a_text_only_model(
        app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    ack = ok(raw, "chat.send", {
        "sessionKey": MAIN, "message": "what is this", "idempotencyKey": "img",
        "attachments": [{"type": "image", "mimeType": "image/png", "fileName": "cat.png",
                         "content": "iVBORw0KGgo="}]})
    assert "cat.png" in ack["notes"][0] and "text only" in ack["notes"][0]
    until(raw, terminal("img"))
    user = ok(raw, "chat.history", {"sessionKey": MAIN})["messages"][0]
    assert user["role"] == "user" and "cat.png" in text_of(user)


def test_unknown_send_params_and_other_agents_are_refused(
        app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    base = {"sessionKey": MAIN, "message": "hi", "idempotencyKey": "x"}
    assert "bogus" in error(raw, "chat.send", {**base, "bogus": 1})["message"]
    assert "agent" in error(raw, "chat.send", {**base, "sessionKey": "agent:ops:main"})["message"]
    assert error(raw, "chat.send", {**base, "queueMode": "sideways"})["code"] == "INVALID_REQUEST"


def test_abort_gives_the_aborted_state_and_a_stored_final(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=fake_config(models))
    models.stall_next("openai", after_pieces=1)
    models.reply("partial and then the rest", ["partial ", "and then the rest"])
    raw = connect(gateway)
    ok(raw, "chat.send", {"sessionKey": MAIN, "message": "go", "idempotencyKey": "ab"})
    until(raw, lambda f: f["event"] == "chat" and f["payload"]["state"] == "delta")
    assert ok(raw, "chat.abort", {"sessionKey": MAIN}) == {"ok": True, "aborted": True,
                                                          "runIds": ["ab"]}
    last = chat_events(until(raw, terminal("ab")), "ab")[-1]
    assert last["state"] == "aborted" and text_of(last["message"]) == "partial "
    assert "aborted" in last["errorMessage"]
    waited = ok(raw, "agent.wait", {"runId": "ab"})
    assert waited["status"] == "error" and waited["error"]["code"] == "ABORTED"
    assert ok(raw, "chat.send", {"sessionKey": MAIN, "message": "go",
                                 "idempotencyKey": "ab"})["status"] == "error"
    assert ok(raw, "chat.abort", {"runId": "ab"})["aborted"] is False
    assert error(raw, "chat.abort", {})["code"] == "INVALID_REQUEST"
    models.release()


def test_abort_by_run_id_checks_the_session(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=fake_config(models))
    models.stall_next("openai", after_pieces=1)
    raw = connect(gateway)
    ok(raw, "chat.send", {"sessionKey": MAIN, "message": "go", "idempotencyKey": "r"})
    until(raw, lambda f: f["event"] == "chat" and f["payload"]["state"] == "delta")
    assert error(raw, "chat.abort", {"sessionKey": "agent:main:other", "runId": "r"})
    assert ok(raw, "chat.abort", {"sessionKey": MAIN, "runId": "r"})["runIds"] == ["r"]
    assert chat_events(until(raw, terminal("r")), "r")[-1]["state"] == "aborted"
    models.release()


def test_a_failed_model_call_is_an_error_state(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=fake_config(models))
    models.fail_next("openai", 401)
    raw = connect(gateway)
    last = send(raw, "bad", "hi")
    assert last["state"] == "error" and last["errorKind"] == "unknown"
    assert last["errorDetail"] == {"provider": "local", "model": "test-model",
                                   "httpStatus": 401}


# ---------------------------------------------------------------------- history


def test_history_pages_back_with_offsets_and_catches_up_with_a_cursor(
        app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    for n in range(3):
        send(raw, f"h{n}", f"message {n}")
    tail = ok(raw, "chat.history", {"sessionKey": MAIN, "limit": 4})
    assert tail["sessionKey"] == MAIN and tail["totalMessages"] == 6
    assert [m["role"] for m in tail["messages"]] == ["user", "assistant"] * 2
    assert text_of(tail["messages"][0]) == "message 1"
    assert tail["hasMore"] is True and tail["nextOffset"] == 4
    assert tail["sessionInfo"]["sessionId"] == tail["sessionId"]
    older = ok(raw, "chat.history", {"sessionKey": MAIN, "limit": 4, "offset": 4})
    assert text_of(older["messages"][0]) == "message 0"
    assert len(older["messages"]) == 2 and older["hasMore"] is False
    assert "deltaCursor" not in older
    cursor = tail["deltaCursor"]
    quiet = ok(raw, "chat.history", {"sessionKey": MAIN, "cursor": cursor})
    assert quiet["kind"] == "delta" and quiet["messages"] == []
    send(raw, "h3", "message 3")
    delta = ok(raw, "chat.history", {"sessionKey": MAIN, "cursor": cursor})
    assert delta["kind"] == "delta"
    assert [(e["messageSeq"], e["message"]["role"]) for e in delta["messages"]] == [
        (7, "user"), (8, "assistant")]
    assert text_of(delta["messages"][0]["message"]) == "message 3"
    caught_up = ok(raw, "chat.history", {"sessionKey": MAIN, "cursor": delta["deltaCursor"]})
    assert caught_up["messages"] == []
    assert ok(raw, "chat.history", {"sessionKey": MAIN, "cursor": "nope:1"}) == {"kind": "reset"}
    ok(raw, "sessions.reset", {"key": MAIN})
    assert ok(raw, "chat.history", {"sessionKey": MAIN, "cursor": cursor}) == {"kind": "reset"}


def test_history_bounds_characters_and_bytes(app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    send(raw, "long", "x" * 3000)
    page = ok(raw, "chat.history", {"sessionKey": MAIN, "maxChars": 100})
    user = page["messages"][0]
    assert len(text_of(user)) == 100 and user["__openclaw"]["truncated"] is True
    small = ok(raw, "chat.history", {"sessionKey": MAIN, "maxBytes": 1024})
    assert len(small["messages"]) == 1 and small["hasMore"] is True  # the newest only


def test_startup_is_history_plus_the_session(app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    send(raw, "s1", "hi")
    startup = ok(raw, "chat.startup", {"sessionKey": MAIN, "limit": 80, "maxBytes": 65536})
    assert len(startup["messages"]) == 2 and startup["session"]["key"] == MAIN
    assert startup["session"]["messageCount"] == 2


def test_inject_appends_a_note_without_a_run(app_gateway: InProcessGateway) -> None:
    watcher, other = connect(app_gateway), connect(app_gateway)
    ok(watcher, "sessions.messages.subscribe", {"key": MAIN})
    result = ok(other, "chat.inject", {"sessionKey": MAIN, "message": "remember this",
                                       "label": "note"})
    assert result["ok"] is True
    frames = until(watcher, lambda f: f["event"] == "session.message")
    entry = frames[-1]["payload"]
    assert entry["messageId"] == result["messageId"] and entry["messageSeq"] == 1
    assert text_of(entry["message"]) == "remember this"
    chat = [f["payload"] for f in frames if f.get("event") == "chat"]
    assert chat and chat[0]["state"] == "final"
    message = ok(other, "chat.history", {"sessionKey": MAIN})["messages"][-1]
    assert message["role"] == "assistant"
    assert message["__openclaw"]["injected"] is True and message["__openclaw"]["label"] == "note"
    assert app_gateway.app is not None and not app_gateway.app.agent.active


# ---------------------------------------------------------------------- subscriptions


def test_only_subscribed_connections_get_session_messages(
        app_gateway: InProcessGateway) -> None:
    subscriber, bystander = connect(app_gateway), connect(app_gateway)
    ok(subscriber, "sessions.messages.subscribe", {"key": MAIN})
    send(bystander, "m1", "hello")
    frames = until(subscriber, lambda f: f["event"] == "session.message"
                   and f["payload"]["message"]["role"] == "assistant")
    entries = [f["payload"] for f in frames if f.get("event") == "session.message"]
    assert [(e["messageSeq"], e["message"]["role"]) for e in entries] == [
        (1, "user"), (2, "assistant")]
    assert entries[0]["sessionKey"] == MAIN and entries[0]["session"]["messageCount"] == 2
    # the submission identity a client matches its own copy of the sent message with
    assert entries[0]["message"]["__openclaw"]["idempotencyKey"] == "m1"
    assert entries[0]["message"]["__openclaw"]["runId"] == "m1"
    assert entries[1]["message"]["__openclaw"]["runId"] == "m1"
    assert "idempotencyKey" not in entries[1]["message"]["__openclaw"]
    ok(bystander, "health")  # every event sent before this answer has arrived
    assert not [f for f in bystander.events if f.get("event") == "session.message"]

    ok(subscriber, "sessions.messages.unsubscribe", {"key": MAIN})
    send(bystander, "m2", "again")
    ok(subscriber, "health")
    assert not [f for f in subscriber.events if f.get("event") == "session.message"]


def test_subscriptions_end_when_the_connection_closes(app_gateway: InProcessGateway) -> None:
    assert app_gateway.app is not None
    chat = app_gateway.app.chat
    leaving, staying = connect(app_gateway), connect(app_gateway)
    ok(leaving, "sessions.messages.subscribe", {"key": MAIN})
    ok(leaving, "sessions.subscribe", {})
    assert app_gateway.run(_counts(chat)) == (1, 1)
    ok(staying, "health")
    staying.events.clear()
    leaving.close()
    until(staying, lambda f: f["event"] == "presence")  # sent once the session is forgotten
    assert app_gateway.run(_counts(chat)) == (0, 0)


async def _counts(chat: Any) -> tuple[int, int]:
    return chat.message_subscribers("main"), chat.list_subscribers()


def test_sessions_changed_goes_to_list_subscribers(app_gateway: InProcessGateway) -> None:
    subscriber, bystander = connect(app_gateway), connect(app_gateway)
    assert ok(subscriber, "sessions.subscribe", {}) == {"subscribed": True}
    send(bystander, "c1", "hi", session="agent:main:work")
    frames = until(subscriber, lambda f: f["event"] == "sessions.changed"
                   and f["payload"]["reason"] == "agent.input.settled")
    changes = [f["payload"] for f in frames if f.get("event") == "sessions.changed"]
    assert [c["reason"] for c in changes] == ["agent.run.started", "agent.input.settled"]
    assert changes[0]["session"]["hasActiveRun"] is True
    assert changes[0]["session"]["activeRunIds"] == ["c1"]
    assert changes[1]["sessionKey"] == "agent:main:work"
    assert changes[1]["session"]["hasActiveRun"] is False
    # strictly newer, even when the run starts and ends within one millisecond
    assert changes[1]["session"]["snapshotAt"] > changes[0]["session"]["snapshotAt"]
    ok(bystander, "sessions.patch", {"key": "agent:main:work", "label": "Work"})
    patched = until(subscriber, lambda f: f["event"] == "sessions.changed")[-1]["payload"]
    assert patched["reason"] == "patch" and patched["session"]["label"] == "Work"
    ok(bystander, "health")
    assert not [f for f in bystander.events if f.get("event") == "sessions.changed"]
    assert ok(subscriber, "sessions.unsubscribe") == {"subscribed": False}
    ok(bystander, "sessions.delete", {"key": "agent:main:work"})
    ok(subscriber, "health")
    assert not [f for f in subscriber.events if f.get("event") == "sessions.changed"]


# ---------------------------------------------------------------------- session metadata


def test_patch_model_is_used_by_the_next_run_and_validated(
        make_app_gateway: Callable[..., InProcessGateway], models: FakeModels) -> None:
    gateway = make_app_gateway(config=fake_config(models, default="offline/echo"))
    raw = connect(gateway)
    first = send(raw, "p1", "hello there")
    assert "offline model" in text_of(first["message"]) and models.bodies() == []
    patched = ok(raw, "sessions.patch", {"key": MAIN, "model": "local/test-model",
                                         "thinkingLevel": "high"})
    assert patched["resolved"] == {"model": "test-model", "modelProvider": "local"}
    assert patched["entry"]["thinkingLevel"] == "high"
    assert patched["entry"]["modelOverride"] == "local/test-model"
    models.reply("from the fake")
    second = send(raw, "p2", "and now?")
    assert text_of(second["message"]) == "from the fake"
    assert [body["model"] for body in models.bodies()] == ["test-model"]
    other = send(raw, "p3", "other session", session="agent:main:side")
    assert "offline model" in text_of(other["message"])  # the override is per session
    ok(raw, "sessions.patch", {"key": MAIN, "model": None})
    assert "offline model" in text_of(send(raw, "p4", "back")["message"])
    for bad in ({"model": "nope/x"}, {"model": "no-slash"}, {"thinkingLevel": "extreme"},
                {"archived": True}):
        assert error(raw, "sessions.patch", {"key": MAIN, **bad})["code"] == "INVALID_REQUEST"


def test_labels_are_unique_and_survive_a_restart(
        make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gateway = make_app_gateway()
    raw = connect(gateway)
    # no label, no presentation title: clients name the row ("Main Session")
    assert "displayName" not in ok(raw, "sessions.describe", {"key": MAIN})["session"]
    ok(raw, "sessions.patch", {"key": MAIN, "label": "Home"})
    assert "already used" in error(raw, "sessions.patch",
                                   {"key": "agent:main:b", "label": "Home"})["message"]
    row = ok(raw, "sessions.describe", {"key": MAIN})["session"]
    assert row["label"] == "Home" and row["displayName"] == "Home"
    raw.close()
    gateway.stop()
    again = InProcessGateway(gateway.home).start()
    try:
        raw = connect(again)
        assert ok(raw, "sessions.describe", {"key": "main"})["session"]["label"] == "Home"
        ok(raw, "sessions.patch", {"key": MAIN, "label": None})
        assert "label" not in ok(raw, "sessions.describe", {"key": MAIN})["session"]
    finally:
        again.stop()


def test_reset_and_delete(app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    send(raw, "d1", "hi", session="agent:main:scratch")
    send(raw, "d2", "hi")
    before = ok(raw, "sessions.describe", {"key": MAIN})["session"]
    stale = error(raw, "sessions.reset", {"key": MAIN, "expectedSessionId": "other"})
    assert stale["details"]["reason"] == "session-changed"
    reset = ok(raw, "sessions.reset", {"key": MAIN, "expectedSessionId": before["sessionId"]})
    assert reset["removedTurns"] == 2 and reset["key"] == MAIN
    assert reset["entry"]["sessionId"] != before["sessionId"]
    assert ok(raw, "chat.history", {"sessionKey": MAIN})["messages"] == []
    assert ok(raw, "sessions.reset", {"sessionKey": "main"})["removedTurns"] == 0  # old form
    assert error(raw, "sessions.delete", {"key": MAIN})["code"] == "INVALID_REQUEST"
    assert ok(raw, "sessions.delete", {"key": "agent:main:scratch"})["deleted"] is True
    assert ok(raw, "sessions.describe", {"key": "agent:main:scratch"}) == {"session": None}
    keys = [row["key"] for row in ok(raw, "sessions.list", {})["sessions"]]
    assert keys == [MAIN]
    assert ok(raw, "sessions.delete", {"key": "agent:main:scratch"})["deleted"] is False


def test_list_takes_the_control_ui_params(app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    for name in ("alpha", "beta", "gamma"):
        send(raw, name, f"first words of {name}", session=f"agent:main:{name}")
    ui = {"includeGlobal": True, "includeUnknown": True, "configuredAgentsOnly": True,
          "includeDerivedTitles": True, "includeLastMessage": True,
          "archivedFilter": "active", "limit": 2, "offset": 0}
    page = ok(raw, "sessions.list", ui)
    assert [row["key"] for row in page["sessions"]] == ["agent:main:gamma", "agent:main:beta"]
    assert page["hasMore"] is True and page["nextOffset"] == 2 and page["totalCount"] == 4
    row = page["sessions"][0]
    assert row["derivedTitle"] == "first words of gamma"
    assert row["lastMessagePreview"].startswith("(offline model)")
    assert row["agentId"] == "main" and row["messageCount"] == 2
    assert row["model"] == "echo" and row["modelProvider"] == "offline"
    assert row["hasActiveRun"] is False and row["updatedAt"] >= row["createdAt"]
    rest = ok(raw, "sessions.list", {**ui, "offset": 2})
    assert [r["key"] for r in rest["sessions"]] == ["agent:main:alpha", MAIN]
    assert rest["hasMore"] is False
    assert [r["key"] for r in ok(raw, "sessions.list", {"search": "BET"})["sessions"]] == [
        "agent:main:beta"]
    assert ok(raw, "sessions.list", {"agentId": "ops"})["sessions"] == []
    assert ok(raw, "sessions.list", {"archivedFilter": "archived"})["sessions"] == []
    assert len(ok(raw, "sessions.list", {"activeMinutes": 5})["sessions"]) == 4
    ok(raw, "sessions.patch", {"key": "agent:main:beta", "label": "B"})
    assert [r["key"] for r in ok(raw, "sessions.list", {"label": "B"})["sessions"]] == [
        "agent:main:beta"]
    assert "whatever" in error(raw, "sessions.list", {"whatever": True})["message"]
    # OpenClaw's Control UI asks for 10000 rows: accepted, and clamped
    huge = ok(raw, "sessions.list", {"limit": 10000, "spawnedBy": MAIN})
    assert huge["limitApplied"] == 1000 and huge["sessions"] == []
    assert ok(raw, "sessions.list", {"limit": 10000})["totalCount"] == 4
    subscribed = ok(raw, "sessions.subscribe", {"limit": 1})
    assert subscribed["subscribed"] is True and len(subscribed["list"]["sessions"]) == 1


def test_both_key_forms_name_one_session(app_gateway: InProcessGateway) -> None:
    raw = connect(app_gateway)
    send(raw, "f1", "hi", session="main")
    history = ok(raw, "chat.history", {"sessionKey": MAIN})
    assert history["sessionKey"] == MAIN and len(history["messages"]) == 2
    assert ok(raw, "sessions.history", {"sessionKey": MAIN})["turns"]
    agent = ok(raw, "agent.wait", {"runId": "f1"})
    assert agent["status"] == "ok"
    preview = ok(raw, "sessions.preview", {"keys": [MAIN, "agent:main:none"]})["previews"]
    assert [(p["key"], p["status"], len(p["items"])) for p in preview] == [
        (MAIN, "ok", 2), ("agent:main:none", "missing", 0)]
    assert error(raw, "chat.history", {"sessionKey": "agent:ops:main"})["code"] == (
        "INVALID_REQUEST")
