"""Unit tests for openclaw.channels.telegram against an in-process httpx.MockTransport."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from openclaw.channels.base import (
    Channel,
    ChannelError,
    InboundMessage,
    OutboundMessage,
    TargetError,
)
from openclaw.channels.registry import ChannelEnv
from openclaw.channels.telegram import TelegramAccount, telegram_accounts
from openclaw.channels.telegram.bot import TelegramChannel
from openclaw.config import channel_section, parse_config
from openclaw.errors import ConfigError
from openclaw.protocol.errors import error_from

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SOURCE = "/etc/openclaw/openclaw.json"
T = TypeVar("T")

Handler = Callable[[httpx.Request], httpx.Response]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


def account(**overrides: Any) -> TelegramAccount:
    fields: dict[str, Any] = {
        "account_id": "default", "token": TOKEN, "token_source": "config",
        "api_root": "https://api.telegram.test", "allow_from": frozenset({"*"}),
        "poll_timeout_s": 25,
    }
    fields.update(overrides)
    return TelegramAccount(**fields)


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def method(self, index: int = -1) -> str:
        return self.requests[index].url.path.rsplit("/", 1)[-1]

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def fail(code: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(code, json=body)


def sent(message_id: int, chat_id: int = 42) -> httpx.Response:
    return ok({"message_id": message_id, "chat": {"id": chat_id, "type": "private"},
               "date": 1700000000})


def channel(recorder: Recorder, **overrides: Any) -> TelegramChannel:
    return TelegramChannel(account(**overrides), transport=httpx.MockTransport(recorder))


def call(recorder: Recorder, method: str, params: dict[str, Any] | None = None,
         **overrides: Any) -> Any:
    async def go() -> Any:
        chan = channel(recorder, **overrides)
        try:
            return await chan._call(method, params)
        finally:
            await chan.close()
    return run(go())


def refuse(recorder: Recorder, method: str = "sendMessage") -> ChannelError:
    with pytest.raises(ChannelError) as info:
        call(recorder, method, {"chat_id": 42, "text": "hi"} if method != "getMe" else None)
    return info.value


# --- the envelope and errors ---------------------------------------------------------


def test_protocol_shape() -> None:
    chan: Channel = channel(Recorder(ok(True)))
    assert chan.name == "telegram"
    assert chan.account_id == "default"
    assert chan.poll_deadline_s == 30
    run(chan.close())


def test_call_posts_json_to_the_bot_url_and_returns_result() -> None:
    recorder = Recorder(ok({"message_id": 7}))
    assert call(recorder, "sendMessage", {"chat_id": 1, "text": "x"}) == {"message_id": 7}
    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"https://api.telegram.test/bot{TOKEN}/sendMessage"
    assert request.headers["content-type"] == "application/json"
    assert recorder.json() == {"chat_id": 1, "text": "x"}


def test_api_root_with_path_prefix() -> None:
    recorder = Recorder(ok({"id": 1, "username": "b"}))
    call(recorder, "getMe", api_root="http://127.0.0.1:8081/tg")
    assert str(recorder.requests[0].url) == f"http://127.0.0.1:8081/tg/bot{TOKEN}/getMe"


def test_429_is_transient_with_retry_after() -> None:
    error = refuse(Recorder(fail(429, "Too Many Requests: retry after 7", retry_after=7)))
    assert error.transient
    assert error.retry_after_s == 7
    assert error.status == 429
    assert not error.maybe_delivered
    assert "Too Many Requests" in str(error)


def test_500_is_transient() -> None:
    error = refuse(Recorder(fail(500, "Internal Server Error")))
    assert error.transient and error.status == 500 and error.retry_after_s is None


def test_400_chat_not_found_is_permanent_with_description() -> None:
    error = refuse(Recorder(fail(400, "Bad Request: chat not found")))
    assert not error.transient
    assert error.status == 400
    assert "Bad Request: chat not found" in str(error)
    assert not error.maybe_delivered


def test_migrated_group_names_the_new_chat() -> None:
    error = refuse(Recorder(fail(400, "Bad Request: group chat was upgraded to a supergroup chat",
                                 migrate_to_chat_id=-1001234567890)))
    assert "-1001234567890" in str(error)


@pytest.mark.parametrize("code", [401, 404])
def test_get_me_refused_token(code: int) -> None:
    error = refuse(Recorder(fail(code, "Unauthorized" if code == 401 else "Not Found")), "getMe")
    assert not error.transient
    assert error.status == code
    assert str(error).startswith("Telegram refused the bot token")
    if code == 401:
        assert str(error) == "Telegram refused the bot token (401 Unauthorized)"


def test_409_conflict_transient_but_webhook_is_not() -> None:
    other = refuse(Recorder(fail(409, "Conflict: terminated by other getUpdates request")),
                   "getUpdates")
    assert other.transient
    webhook = refuse(Recorder(fail(409, "Conflict: can't use getUpdates method while "
                                        "webhook is active; use deleteWebhook")), "getUpdates")
    assert not webhook.transient


def test_non_json_body_is_transient_and_names_the_status() -> None:
    error = refuse(Recorder(httpx.Response(502, text="<html>Bad Gateway</html>")), "getMe")
    assert error.transient
    assert error.status == 502
    assert "502" in str(error)


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout,
                                      httpx.PoolTimeout])
def test_connect_failures_are_transient_and_not_delivered(exc_type: type[Exception]) -> None:
    error = refuse(Recorder(exc_type("refused")))
    assert error.transient
    assert not error.maybe_delivered


@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ReadError,
                                      httpx.RemoteProtocolError, httpx.WriteError])
def test_lost_answer_to_a_send_may_have_been_delivered(exc_type: type[Exception]) -> None:
    error = refuse(Recorder(exc_type("timed out")), "sendMessage")
    assert error.transient
    assert error.maybe_delivered


@pytest.mark.parametrize("method", ["getUpdates", "getMe"])
def test_lost_answer_to_a_read_is_simply_transient(method: str) -> None:
    error = refuse(Recorder(httpx.ReadTimeout("timed out")), method)
    assert error.transient
    assert not error.maybe_delivered


def _token_echo(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"failed talking to {request.url}", request=request)
    return handler


@pytest.mark.parametrize("answer", [
    fail(429, f"Too Many Requests for bot{TOKEN}", retry_after=1),
    fail(500, f"oops {TOKEN}"),
    fail(400, f"Bad Request: chat not found ({TOKEN})"),
    fail(401, f"Unauthorized {TOKEN}"),
    fail(409, f"Conflict {TOKEN}"),
    httpx.Response(502, text=f"proxy error for /bot{TOKEN}/sendMessage"),
    _token_echo(httpx.ConnectError),
    _token_echo(httpx.ConnectTimeout),
    _token_echo(httpx.ReadTimeout),
    _token_echo(httpx.ReadError),
    _token_echo(httpx.WriteError),
    _token_echo(httpx.RemoteProtocolError),
    _token_echo(httpx.PoolTimeout),
], ids=["429", "500", "400", "401", "409", "non-json", "connect", "connect-timeout",
        "read-timeout", "read-error", "write-error", "protocol", "pool"])
@pytest.mark.parametrize("method", ["sendMessage", "getMe", "getUpdates"])
def test_the_token_never_appears_in_errors(answer: Any, method: str) -> None:
    error = refuse(Recorder(answer), method)
    for text in (str(error), error.message, repr(error), json.dumps(error_from(error))):
        assert TOKEN not in text
        assert TOKEN.split(":")[1] not in text
    # raised "from None": the httpx exception (which carries the URL) is not shown
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_account_repr_hides_the_token() -> None:
    assert TOKEN not in repr(account())
    chan = channel(Recorder(ok(True)))
    assert TOKEN not in json.dumps(chan.snapshot())
    run(chan.close())


# --- connect and snapshot ------------------------------------------------------------


def test_connect_and_snapshot() -> None:
    recorder = Recorder(ok({"id": 99, "is_bot": True, "username": "clawbot", "first_name": "C"}))

    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        chan = channel(recorder, allow_from=frozenset({"5", "-100", "*"}), token_source="file")
        before = chan.snapshot()
        facts = await chan.connect()
        after = chan.snapshot()
        await chan.close()
        return before, facts, after

    before, facts, after = run(go())
    assert recorder.method() == "getMe"
    assert facts == {"bot": {"id": 99, "username": "clawbot"}}
    assert before["bot"] is None
    assert after == {"bot": "clawbot", "apiRoot": "https://api.telegram.test",
                     "tokenSource": "file", "allowFrom": ["*", "-100", "5"],
                     "pollTimeoutSeconds": 25, "dmPolicy": "pairing"}


# --- poll ----------------------------------------------------------------------------


def text_update(update_id: int, text: str, *, from_id: int = 5, chat_id: int | None = None,
                username: str | None = "alice", message_id: int | None = None,
                caption: bool = False) -> dict[str, Any]:
    sender: dict[str, Any] = {"id": from_id, "is_bot": False, "first_name": "Alice"}
    if username:
        sender["username"] = username
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else update_id * 10,
        "from": sender,
        "chat": {"id": chat_id if chat_id is not None else from_id, "type": "private"},
        "date": 1700000000,
    }
    if caption:
        message["photo"] = [{"file_id": "x", "width": 1, "height": 1}]
        message["caption"] = text
    else:
        message["text"] = text
    return {"update_id": update_id, "message": message}


def poll(recorder: Recorder, cursor: str | None,
         **overrides: Any) -> list[tuple[list[InboundMessage], str | None]]:
    calls: list[tuple[list[InboundMessage], str | None]] = []

    async def sink(messages: list[InboundMessage], next_cursor: str | None) -> None:
        calls.append((messages, next_cursor))

    async def go() -> None:
        chan = channel(recorder, **overrides)
        try:
            await chan.poll(cursor, sink)
        finally:
            await chan.close()

    run(go())
    return calls


def test_poll_builds_messages_and_cursor() -> None:
    recorder = Recorder(ok([
        text_update(100, "hello"),
        text_update(101, "photo caption", caption=True, username=None),
        {"update_id": 102, "message": {"message_id": 3, "chat": {"id": 5}, "date": 1,
                                       "from": {"id": 5}, "sticker": {}}},
    ]))
    calls = poll(recorder, "100", poll_timeout_s=20)
    assert recorder.method() == "getUpdates"
    assert recorder.json() == {"offset": 100, "timeout": 20, "allowed_updates": ["message"]}
    assert len(calls) == 1
    messages, cursor = calls[0]
    assert cursor == "103"
    assert messages == [
        InboundMessage(channel="telegram", account_id="default", message_id="1000",
                       chat_id="5", sender="5", text="hello", ts=1700000000000,
                       sender_name="alice"),
        InboundMessage(channel="telegram", account_id="default", message_id="1010",
                       chat_id="5", sender="5", text="photo caption", ts=1700000000000,
                       sender_name="Alice"),
    ]


def test_poll_without_cursor_sends_no_offset_and_uses_a_longer_http_timeout() -> None:
    recorder = Recorder(ok([]))
    calls = poll(recorder, None, poll_timeout_s=3)
    assert recorder.json() == {"timeout": 3, "allowed_updates": ["message"]}
    assert recorder.requests[0].extensions["timeout"]["read"] == 13
    assert calls == []  # no updates: the sink is not called


def test_poll_hands_every_message_to_the_access_policy_by_user_chat_and_star() -> None:
    updates = [
        text_update(1, "from allowed user", from_id=5, chat_id=-100777),
        text_update(2, "in allowed chat", from_id=6, chat_id=-100200),
        text_update(3, "stranger", from_id=7, chat_id=7),
    ]
    updates[1]["message"]["chat"]["type"] = "supergroup"
    [(messages, cursor)] = poll(Recorder(ok(updates)), "1")
    assert cursor == "4"
    assert [m.chat_type for m in messages] == ["direct", "group", "direct"]
    listed = dataclasses.replace(account(), allow_from=frozenset({"5", "-100200"}),
                                 dm_policy="allowlist").access
    assert [listed.decide(m, approved=False).action for m in messages] == [
        "accept", "accept", "drop"]
    pairing = dataclasses.replace(account(), allow_from=frozenset({"5", "-100200"})).access
    assert [pairing.decide(m, approved=False).action for m in messages] == [
        "accept", "accept", "pair"]
    everyone = dataclasses.replace(account(), allow_from=frozenset({"*"})).access
    assert all(everyone.decide(m, approved=False).action == "accept" for m in messages)


def test_poll_confirms_updates_even_when_all_are_ignored() -> None:
    updates = [text_update(50, "a", from_id=7), text_update(48, "b", from_id=8)]
    calls = poll(Recorder(ok(updates)), None, allow_from=frozenset())
    assert [cursor for _, cursor in calls] == ["51"]


def test_poll_error_does_not_call_the_sink() -> None:
    with pytest.raises(ChannelError) as info:
        poll(Recorder(fail(502, "Bad Gateway")), "1")
    assert info.value.transient


def test_poll_sender_chat_for_anonymous_admins() -> None:
    update = {"update_id": 9, "message": {
        "message_id": 1, "date": 2, "text": "hi",
        "sender_chat": {"id": -100300, "title": "Group", "type": "supergroup"},
        "chat": {"id": -100300, "type": "supergroup"}}}
    [(messages, _)] = poll(Recorder(ok([update])), None)
    assert messages[0].sender == "-100300"
    assert messages[0].sender_name == "Group"


# --- send ----------------------------------------------------------------------------


def send(recorder: Recorder, message: OutboundMessage) -> Any:
    async def go() -> Any:
        chan = channel(recorder)
        try:
            return await chan.send(message)
        finally:
            await chan.close()
    return run(go())


def test_send_text() -> None:
    recorder = Recorder(sent(11, chat_id=42))
    receipt = send(recorder, OutboundMessage(chat_id="42", text="hello"))
    assert recorder.method() == "sendMessage"
    assert recorder.json() == {"chat_id": 42, "text": "hello"}
    assert receipt.message_id == "11"
    assert receipt.chat_id == "42"
    assert receipt.extra == {"messageIds": ["11"]}


def test_send_to_a_channel_name_keeps_the_string() -> None:
    recorder = Recorder(sent(1, chat_id=-1001))
    receipt = send(recorder, OutboundMessage(chat_id="@mychannel", text="x"))
    assert recorder.json()["chat_id"] == "@mychannel"
    assert receipt.chat_id == "-1001"


def test_send_local_photo_is_uploaded_with_the_caption(tmp_path: Path) -> None:
    photo = tmp_path / "cat.png"
    photo.write_bytes(b"\x89PNG-fake-image-bytes")
    recorder = Recorder(sent(12))
    receipt = send(recorder, OutboundMessage(chat_id="42", text="look", media=(str(photo),)))
    assert [recorder.method(i) for i in range(len(recorder.requests))] == ["sendPhoto"]
    request = recorder.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.content
    assert b"\x89PNG-fake-image-bytes" in body
    assert b'name="photo"; filename="cat.png"' in body
    assert b'name="caption"\r\n\r\nlook\r\n' in body
    assert b'name="chat_id"\r\n\r\n42\r\n' in body
    assert receipt.message_id == "12"


def test_send_url_document_and_photo_in_order() -> None:
    recorder = Recorder(sent(20), sent(21))
    receipt = send(recorder, OutboundMessage(
        chat_id="42", text="files",
        media=("https://example.com/report.pdf", "http://example.com/pic.JPG?size=big")))
    assert [recorder.method(0), recorder.method(1)] == ["sendDocument", "sendPhoto"]
    assert recorder.json(0) == {"chat_id": 42, "caption": "files",
                                "document": "https://example.com/report.pdf"}
    assert recorder.json(1) == {"chat_id": 42, "photo": "http://example.com/pic.JPG?size=big"}
    assert receipt.message_id == "21"
    assert receipt.extra == {"messageIds": ["20", "21"]}


def test_long_caption_goes_first_as_its_own_message() -> None:
    text = "x" * 1025
    recorder = Recorder(sent(30), sent(31))
    receipt = send(recorder, OutboundMessage(chat_id="42", text=text,
                                             media=("https://example.com/a.png",)))
    assert [recorder.method(0), recorder.method(1)] == ["sendMessage", "sendPhoto"]
    assert recorder.json(0) == {"chat_id": 42, "text": text}
    assert "caption" not in recorder.json(1)
    assert receipt.extra == {"messageIds": ["30", "31"]}


def test_caption_limit_is_inclusive() -> None:
    recorder = Recorder(sent(1))
    send(recorder, OutboundMessage(chat_id="42", text="y" * 1024,
                                   media=("https://example.com/a.png",)))
    assert recorder.method() == "sendPhoto" and len(recorder.requests) == 1


def test_very_long_text_is_split() -> None:
    text = ("line\n" * 1000) + "z" * 5000
    recorder = Recorder(sent(1), sent(2), sent(3), sent(4))
    send(recorder, OutboundMessage(chat_id="42", text=text))
    chunks = [recorder.json(i)["text"] for i in range(len(recorder.requests))]
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_missing_local_media_fails_before_sending(tmp_path: Path) -> None:
    recorder = Recorder(sent(1))
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(ChannelError) as info:
        send(recorder, OutboundMessage(chat_id="42", text="t", media=(missing,)))
    assert not info.value.transient
    assert str(info.value) == f"media file not found: {missing}"
    assert recorder.requests == []


def test_failure_after_a_delivered_part_is_maybe_delivered() -> None:
    recorder = Recorder(sent(1), fail(400, "Bad Request: wrong file identifier/HTTP URL"))
    with pytest.raises(ChannelError) as info:
        send(recorder, OutboundMessage(chat_id="42", media=("https://example.com/a.png",
                                                           "https://example.com/b.pdf")))
    assert info.value.maybe_delivered
    assert "1 of 2" in str(info.value)


def test_send_read_timeout_is_maybe_delivered() -> None:
    with pytest.raises(ChannelError) as info:
        send(Recorder(httpx.ReadTimeout("timed out")), OutboundMessage(chat_id="42", text="x"))
    assert info.value.maybe_delivered and info.value.transient


def test_empty_message_is_refused() -> None:
    with pytest.raises(ChannelError) as info:
        send(Recorder(sent(1)), OutboundMessage(chat_id="42"))
    assert not info.value.transient


# --- normalize_target ----------------------------------------------------------------


@pytest.mark.parametrize(("to", "expected"), [
    ("123456", "123456"),
    (" -1001234567890 ", "-1001234567890"),
    ("telegram:42", "42"),
    ("Telegram: -5", "-5"),
    ("@my_channel", "@my_channel"),
    ("telegram:@abcde", "@abcde"),
    ("t.me/durov_bot", "@durov_bot"),
    ("https://t.me/somechannel", "@somechannel"),
    ("http://t.me/somechannel/", "@somechannel"),
])
def test_normalize_target_accepts(to: str, expected: str) -> None:
    chan = channel(Recorder(ok(True)))
    assert chan.normalize_target(to) == expected
    run(chan.close())


@pytest.mark.parametrize("to", [
    "", "   ", "telegram:", "@abc", "@" + "a" * 33, "@bad-name", "name_without_at",
    "12 34", "+123", "https://t.me/+invitehash", "https://example.com/x", "t.me/",
    "slack:#general", "1.5",
])
def test_normalize_target_refuses(to: str) -> None:
    chan = channel(Recorder(ok(True)))
    with pytest.raises(TargetError) as info:
        chan.normalize_target(to)
    assert str(info.value) == (
        f"not a Telegram chat: {to!r} (use a numeric chat id or @channelname)")
    assert info.value.code == "INVALID_REQUEST"
    run(chan.close())


# --- telegram_accounts ---------------------------------------------------------------


def accounts_of(telegram: dict[str, Any] | None, environ: dict[str, str] | None = None,
                source: str = SOURCE) -> list[TelegramAccount]:
    document: dict[str, Any] = {} if telegram is None else {"channels": {"telegram": telegram}}
    section = channel_section(parse_config(document, source), "telegram")
    if section is None:
        return []
    return telegram_accounts(section, ChannelEnv(source, environ or {}, Path("/nonexistent")))


def accounts_error(telegram: dict[str, Any], environ: dict[str, str] | None = None,
                   source: str = SOURCE) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        accounts_of(telegram, environ, source)
    return info.value


def test_no_telegram_section_or_disabled() -> None:
    assert accounts_of(None) == []
    assert accounts_of({"enabled": False, "botToken": TOKEN}) == []


def test_top_level_account_with_defaults() -> None:
    [acc] = accounts_of({"botToken": TOKEN})
    assert acc == TelegramAccount("default", TOKEN, "config", "https://api.telegram.org",
                                  frozenset(), 25)


def test_top_level_settings_and_trailing_slash() -> None:
    [acc] = accounts_of({"botToken": f" {TOKEN} ", "apiRoot": "http://127.0.0.1:9/",
                         "allowFrom": [5, "-100200", "*"], "pollTimeoutSeconds": 3})
    assert acc.token == TOKEN
    assert acc.api_root == "http://127.0.0.1:9"
    assert acc.allow_from == frozenset({"5", "-100200", "*"})
    assert acc.poll_timeout_s == 3


def test_env_token() -> None:
    [acc] = accounts_of({}, {"TELEGRAM_BOT_TOKEN": TOKEN + "\n"})
    assert (acc.token, acc.token_source) == (TOKEN, "env")
    # the config wins over the environment
    [acc] = accounts_of({"botToken": "1:config"}, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert (acc.token, acc.token_source) == ("1:config", "config")


def test_token_file_absolute_and_relative(tmp_path: Path) -> None:
    (tmp_path / "tg.token").write_text(f"\n{TOKEN}\n")
    [acc] = accounts_of({"botTokenFile": str(tmp_path / "tg.token")})
    assert (acc.token, acc.token_source) == (TOKEN, "file")
    [acc] = accounts_of({"botTokenFile": "tg.token"}, source=str(tmp_path / "openclaw.json"))
    assert acc.token == TOKEN


def test_unreadable_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.token"
    error = accounts_error({"botTokenFile": str(missing)})
    assert error.key == "channels.telegram.botTokenFile"
    assert error.reason.startswith(f"cannot read {missing}: ")
    assert "No such file" in error.reason
    assert error.path == SOURCE
    (tmp_path / "empty").write_text("  \n")
    error = accounts_error({"accounts": {"ops": {"botTokenFile": str(tmp_path / "empty")}}})
    assert error.key == "channels.telegram.accounts.ops.botTokenFile"
    assert "empty" in error.reason


def test_missing_token_error_names_the_key() -> None:
    error = accounts_error({})
    assert error.key == "channels.telegram.botToken"
    assert error.reason == "no bot token: set botToken, botTokenFile or TELEGRAM_BOT_TOKEN"
    assert str(error) == (f"invalid config {SOURCE}: channels.telegram.botToken: "
                          "no bot token: set botToken, botTokenFile or TELEGRAM_BOT_TOKEN")
    error = accounts_error({"accounts": {"ops": {}}}, {"TELEGRAM_BOT_TOKEN": TOKEN})
    # the environment supplies the top-level bot only
    assert error.key == "channels.telegram.accounts.ops.botToken"
    assert error.reason.startswith("no bot token")


def test_accounts_inherit_from_the_top_level(tmp_path: Path) -> None:
    (tmp_path / "ops.token").write_text("2:ops")
    accounts = accounts_of({
        "apiRoot": "http://127.0.0.1:7/", "allowFrom": [1], "pollTimeoutSeconds": 9,
        "accounts": {
            "ops": {"botTokenFile": str(tmp_path / "ops.token")},
            "alerts": {"botToken": "3:alerts", "apiRoot": "https://other.test",
                       "allowFrom": [], "pollTimeoutSeconds": 1},
            "off": {"enabled": False},
        },
    })
    # no top-level token, but accounts exist: no "default" account and no error
    assert [a.account_id for a in accounts] == ["ops", "alerts"]
    ops, alerts = accounts
    assert ops == TelegramAccount("ops", "2:ops", "file", "http://127.0.0.1:7",
                                  frozenset({"1"}), 9)
    assert alerts == TelegramAccount("alerts", "3:alerts", "config", "https://other.test",
                                     frozenset(), 1)


def test_top_level_bot_plus_accounts() -> None:
    accounts = accounts_of({"accounts": {"ops": {"botToken": "2:ops"}}},
                           {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert [(a.account_id, a.token_source) for a in accounts] == [
        ("default", "env"), ("ops", "config")]


def test_duplicate_bot_is_refused() -> None:
    error = accounts_error({"botToken": TOKEN, "accounts": {"ops": {"botToken": TOKEN}}})
    assert error.key == "channels.telegram.accounts.ops.botToken"
    error = accounts_error({"botToken": TOKEN, "accounts": {"default": {"botToken": "2:x"}}})
    assert error.key == "channels.telegram.accounts.default"


# --- the loopback fake, when it exists -----------------------------------------------


def test_against_fake_telegram_if_present(tmp_path: Path) -> None:
    try:
        from fake_telegram import FakeTelegram  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pytest.skip("tests/fake_telegram.py is not there yet")
    photo = tmp_path / "pic.png"
    photo.write_bytes(b"\x89PNG" + bytes(range(256)) * 4)
    calls: list[tuple[list[InboundMessage], str | None]] = []

    async def sink(messages: list[InboundMessage], cursor: str | None) -> None:
        calls.append((messages, cursor))

    with FakeTelegram(token=TOKEN) as fake:
        async def go() -> dict[str, Any]:
            chan = TelegramChannel(account(api_root=fake.api_root, poll_timeout_s=0,
                                           allow_from=frozenset({"5"})))
            try:
                facts = await chan.connect()
                fake.push_message(42, "hi there", from_id=5)
                fake.push_message(43, "stranger", from_id=6)
                await chan.poll(None, sink)
                await chan.poll(calls[-1][1], sink)  # confirmed: nothing comes back
                await chan.send(OutboundMessage(chat_id="42", text="pong"))
                await chan.send(OutboundMessage(chat_id="42", text="a picture",
                                                media=(str(photo),)))
                return facts
            finally:
                await chan.close()

        facts = run(go())
        assert facts["bot"]["username"] == fake.bot_username
        [(messages, cursor)] = calls
        assert [(m.text, m.sender, m.chat_id) for m in messages] == [
            ("hi there", "5", "42"), ("stranger", "6", "43")]  # the access policy filters
        assert cursor is not None
        assert fake.sent_texts() == ["pong", "a picture"]
        upload = fake.sent[-1]
        assert (upload["method"], upload["file_name"], upload["size"]) == (
            "sendPhoto", "pic.png", photo.stat().st_size)

        async def wrong_token() -> None:
            chan = TelegramChannel(account(api_root=fake.api_root, token="999:WRONGWRONG"))
            try:
                await chan.connect()
            finally:
                await chan.close()

        with pytest.raises(ChannelError) as info:
            run(wrong_token())
        assert not info.value.transient
        assert "WRONGWRONG" not in str(info.value)
