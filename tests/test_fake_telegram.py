"""The Telegram Bot API fake speaks the real wire format (checked with a plain HTTP client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from fake_telegram import FakeTelegram

Call = Callable[..., httpx.Response]


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(known_chats=[42, "@news"]) as fake:
        yield fake


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One pooled (keep-alive) client, as a real bot would use."""
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def call(tg: FakeTelegram, http: httpx.Client) -> Call:
    """``call(method, json=..., data=..., files=..., params=...)``: POST to the fake."""
    return lambda method, **kwargs: http.post(tg.url(method), **kwargs)


def test_get_me_envelope(tg: FakeTelegram, call: Call) -> None:
    response = httpx.get(tg.url("getMe"), timeout=5)  # GET works too
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["ok"] is True
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "openclaw_test_bot"
    assert body["result"]["id"] == 123
    assert call("getme").json()["ok"] is True  # method names are case-insensitive
    assert tg.requests == [("getMe", {}), ("getMe", {})]
    assert tg.api_root == f"http://127.0.0.1:{tg.port}"


def test_send_message_json_form_and_query(tg: FakeTelegram, call: Call) -> None:
    first = call("sendMessage", json={"chat_id": 42, "text": "hello"}).json()
    assert first["ok"] is True
    message = first["result"]
    assert message["message_id"] == 1000
    assert message["chat"] == {"id": 42, "first_name": "Test User", "type": "private"}
    assert message["text"] == "hello"
    assert message["from"]["is_bot"] is True
    assert isinstance(message["date"], int)

    second = call("sendMessage", data={"chat_id": "42", "text": "form"}).json()
    assert second["result"]["message_id"] == 1001
    third = call("sendMessage", params={"chat_id": "@news", "text": "query"}).json()
    assert third["result"]["message_id"] == 1000  # ids are per chat
    assert third["result"]["chat"]["type"] == "channel"

    assert tg.sent_texts() == ["hello", "form", "query"]
    assert [s["chat_id"] for s in tg.sent] == [42, 42, "@news"]
    assert tg.sent[1]["method"] == "sendMessage"
    assert tg.sent[0]["ts"] <= tg.sent[1]["ts"] <= tg.sent[2]["ts"]


def test_send_message_errors(tg: FakeTelegram, call: Call) -> None:
    response = call("sendMessage", json={"chat_id": 7, "text": "hi"})
    assert response.status_code == 400
    assert response.json() == {
        "ok": False, "error_code": 400, "description": "Bad Request: chat not found",
    }
    too_long = call("sendMessage", json={"chat_id": 42, "text": "x" * 4097})
    assert too_long.json()["description"] == "Bad Request: message is too long"
    assert tg.sent == []


def test_send_photo_multipart_upload_and_url(tg: FakeTelegram, call: Call) -> None:
    upload = call("sendPhoto", data={"chat_id": "42", "caption": "a cat"},
                  files={"photo": ("cat.jpg", b"\xff" * 1234, "image/jpeg")})
    assert upload.status_code == 200
    result = upload.json()["result"]
    assert result["caption"] == "a cat"
    assert result["photo"][-1]["file_size"] == 1234
    assert {"file_id", "file_unique_id", "width", "height"} <= set(result["photo"][0])

    by_url = call("sendPhoto", json={"chat_id": 42, "photo": "https://example.com/a.png"})
    assert by_url.json()["result"]["photo"]

    again = call("sendPhoto", json={"chat_id": 42, "photo": result["photo"][-1]["file_id"]})
    assert again.status_code == 200
    bogus = call("sendPhoto", json={"chat_id": 42, "photo": "/tmp/cat.jpg"})
    assert bogus.json()["description"] == "Bad Request: wrong file identifier/HTTP URL specified"

    first, second, third = tg.sent
    assert (first["media"], first["file_name"], first["size"], first["caption"]) == (
        "photo", "cat.jpg", 1234, "a cat")
    assert (second["url"], second["size"], second["caption"]) == (
        "https://example.com/a.png", None, None)
    assert third["file_id"] == result["photo"][-1]["file_id"]
    assert tg.sent_texts() == ["a cat"]


def test_send_document_multipart(tg: FakeTelegram, call: Call) -> None:
    response = call("sendDocument", data={"chat_id": "42"},
                    files={"document": ("report.pdf", b"%PDF-1.4" * 10, "application/pdf")})
    document = response.json()["result"]["document"]
    assert document["file_name"] == "report.pdf"
    assert document["mime_type"] == "application/pdf"
    assert document["file_size"] == 80
    assert tg.sent[0]["media"] == "document"
    missing = call("sendDocument", data={"chat_id": "42"})
    assert missing.json()["description"] == "Bad Request: there is no document in the request"


def test_get_updates_long_poll_and_offsets(tg: FakeTelegram, call: Call) -> None:
    results: list[httpx.Response] = []
    poller = threading.Thread(target=lambda: results.append(
        call("getUpdates", json={"timeout": 3})))
    poller.start()
    tg.wait_for(lambda t: len(t.polls) == 1, timeout=2)
    started = time.monotonic()
    update_id = tg.push_message(42, "/start hi", username="alice")
    poller.join(timeout=3)
    assert time.monotonic() - started < 1.5  # answered on arrival, not at the timeout

    (update,) = results[0].json()["result"]
    assert update["update_id"] == update_id
    message = update["message"]
    assert message["text"] == "/start hi"
    assert message["chat"] == {"id": 42, "type": "private", "first_name": "Test User",
                               "username": "alice"}
    assert message["from"] == {"id": 42, "is_bot": False, "first_name": "Test User",
                               "username": "alice"}
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    # Unconfirmed updates come back at once; an offset above them confirms them.
    second = tg.push_message(42, "more")
    again = call("getUpdates", data={"timeout": "3", "limit": "1"}).json()["result"]
    assert [u["update_id"] for u in again] == [update_id]
    confirmed = call("getUpdates", json={"offset": update_id + 1}).json()["result"]
    assert [u["update_id"] for u in confirmed] == [second]
    empty = call("getUpdates", json={"offset": second + 1, "timeout": 0.1}).json()
    assert empty == {"ok": True, "result": []}
    assert tg.polls == [(None, 3.0), (None, 3.0), (update_id + 1, 0.0), (second + 1, 0.1)]


def test_fail_next_429_then_recovers(tg: FakeTelegram, call: Call) -> None:
    tg.fail_next("sendMessage", 429, retry_after=3)
    throttled = call("sendMessage", json={"chat_id": 42, "text": "x"})
    assert throttled.status_code == 429
    assert throttled.json() == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert call("sendMessage", json={"chat_id": 42, "text": "x"}).status_code == 200
    assert tg.sent_texts() == ["x"]
    assert [method for method, _ in tg.requests] == ["sendMessage", "sendMessage"]


def test_wrong_token_and_unknown_method(tg: FakeTelegram, call: Call) -> None:
    wrong = httpx.post(tg.url("getMe", token="123:WRONG"), timeout=5)
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    unknown = call("launchRocket")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_set_down_refuses_connections_until_up_again(tg: FakeTelegram, call: Call) -> None:
    port = tg.port
    tg.set_down(True)
    with pytest.raises(httpx.ConnectError):
        call("getMe")
    tg.set_down(False)
    assert tg.port == port
    assert call("getMe").status_code == 200


def test_delay_adds_latency(tg: FakeTelegram, call: Call) -> None:
    tg.delay("getMe", 0.2)
    started = time.monotonic()
    assert call("getMe").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_stalled_poll_times_out_and_stop_releases_it() -> None:
    fake = FakeTelegram().start()
    fake.stall_polls(True)
    fake.push_message(42, "waiting")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake.url("getUpdates"), timeout=0.3)

    outcome: list[BaseException] = []

    def stalled_poll() -> None:
        try:
            httpx.post(fake.url("getUpdates"), timeout=10)
        except httpx.TransportError as error:
            outcome.append(error)

    poller = threading.Thread(target=stalled_poll)
    poller.start()
    fake.wait_for(lambda t: len(t.polls) == 2, timeout=2)
    started = time.monotonic()
    fake.stop()
    poller.join(timeout=3)
    assert not poller.is_alive()
    assert time.monotonic() - started < 2
    assert len(outcome) == 1  # dropped without a response, not answered


def test_wait_for_times_out_with_assertion(tg: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match="condition not met"):
        tg.wait_for(lambda t: len(t.sent) > 0, timeout=0.05)
