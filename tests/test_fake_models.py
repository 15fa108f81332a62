"""The model-API fake speaks the real OpenAI / Anthropic wire formats (checked with httpx)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_models import FakeModels, split_pieces

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-5"
Event = tuple[str | None, str]  # (event name, data)


@pytest.fixture
def fake() -> Iterator[FakeModels]:
    with FakeModels() as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One pooled (keep-alive) client, as a real provider would use."""
    with httpx.Client(timeout=5) as client:
        yield client


def openai_headers(key: str | None = "test-key") -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


def anthropic_headers(key: str | None = "test-key",
                      version: str | None = "2023-06-01") -> dict[str, str]:
    headers = {} if key is None else {"x-api-key": key}
    if version is not None:
        headers["anthropic-version"] = version
    return headers


def openai_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": OPENAI_MODEL, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": text}], **extra}


def anthropic_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": ANTHROPIC_MODEL, "max_tokens": 256, "system": "be brief",
            "messages": [{"role": "user", "content": text}], **extra}


def post_openai(fake: FakeModels, http: httpx.Client, body: dict[str, Any],
                key: str | None = "test-key") -> httpx.Response:
    return http.post(f"{fake.openai_base_url}/chat/completions", json=body,
                     headers=openai_headers(key))


def post_anthropic(fake: FakeModels, http: httpx.Client, body: dict[str, Any],
                   **headers: Any) -> httpx.Response:
    return http.post(f"{fake.anthropic_base_url}/v1/messages", json=body,
                     headers=anthropic_headers(**headers))


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    """A tiny SSE parser: yields (event, data) at each blank line."""
    name: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, "\n".join(data)


def stream(client: httpx.Client, url: str, body: dict[str, Any],
           headers: dict[str, str]) -> tuple[httpx.Response, list[Event]]:
    with client.stream("POST", url, json=body, headers=headers) as response:
        return response, list(parse_sse(response.iter_lines()))


def openai_stream(fake: FakeModels, client: httpx.Client, body: dict[str, Any]
                  ) -> tuple[httpx.Response, list[Event]]:
    return stream(client, f"{fake.openai_base_url}/chat/completions",
                  {**body, "stream": True}, openai_headers())


def anthropic_stream(fake: FakeModels, client: httpx.Client, body: dict[str, Any]
                     ) -> tuple[httpx.Response, list[Event]]:
    return stream(client, f"{fake.anthropic_base_url}/v1/messages",
                  {**body, "stream": True}, anthropic_headers())


def openai_text(events: list[Event]) -> str:
    return "".join(json.loads(data)["choices"][0]["delta"].get("content") or ""
                   for _, data in events
                   if data != "[DONE]" and json.loads(data).get("choices"))


def anthropic_text(events: list[Event]) -> str:
    return "".join(json.loads(data)["delta"]["text"] for name, data in events
                   if name == "content_block_delta")


# --------------------------------------------------------------------------- OpenAI


def test_openai_non_stream(fake: FakeModels, http: httpx.Client) -> None:
    response = post_openai(fake, http, openai_body("hello there"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == OPENAI_MODEL
    assert body["choices"] == [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                "message": {"role": "assistant", "content": "echo: hello there",
                                            "refusal": None}}]
    # prompt: "be brief" + "hello there" = 4 words; reply: "echo: hello there" = 3 words
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}


def test_openai_stream_with_usage(fake: FakeModels, http: httpx.Client) -> None:
    fake.reply("Hi there, friend.", pieces=["Hi", " there,", " friend."])
    response, events = openai_stream(
        fake, http, openai_body(stream_options={"include_usage": True}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(name is None for name, _ in events)  # OpenAI sends data-only events
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"] for c in chunks[1:4]] == [
        {"content": "Hi"}, {"content": " there,"}, {"content": " friend."}]
    assert chunks[4]["choices"][0]["delta"] == {}
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"
    assert all(chunk["usage"] is None for chunk in chunks[:5])
    assert chunks[5]["choices"] == []
    assert chunks[5]["usage"] == {"prompt_tokens": 4, "completion_tokens": 3,
                                  "total_tokens": 7}
    assert openai_text(events) == "Hi there, friend."


def test_openai_stream_without_usage(fake: FakeModels, http: httpx.Client) -> None:
    _, events = openai_stream(fake, http, openai_body("a b c"))
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert openai_text(events) == "echo: a b c"
    assert len(chunks) == 2 + len(split_pieces("echo: a b c"))  # role + 4 words + stop


def test_openai_auth(http: httpx.Client) -> None:
    with FakeModels(api_key="sk-right-key-123456") as fake:
        wrong = post_openai(fake, http, openai_body(), key="sk-wrong-key-654321")
        assert wrong.status_code == 401
        error = wrong.json()["error"]
        assert error["code"] == "invalid_api_key"
        assert error["type"] == "invalid_request_error"
        assert error["param"] is None
        assert "sk-wrong-key" not in error["message"]  # the key is redacted
        missing = post_openai(fake, http, openai_body(), key=None)
        assert missing.status_code == 401
        assert "didn't provide an API key" in missing.json()["error"]["message"]
        assert post_openai(fake, http, openai_body(), key="sk-right-key-123456").is_success
    with FakeModels(api_key=None) as open_fake:  # Ollama-style: no auth at all
        assert post_openai(open_fake, http, openai_body(), key=None).status_code == 200


def test_openai_errors(fake: FakeModels, http: httpx.Client) -> None:
    fake.fail_next("openai", 429, retry_after=7)
    limited = post_openai(fake, http, openai_body())
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"

    fake.fail_next("openai", 500, count=2)
    for _ in range(2):
        failed = post_openai(fake, http, openai_body())
        assert failed.status_code == 500
        assert failed.json() == {"error": {
            "message": "The server had an error while processing your request. "
                       "Sorry about that!",
            "type": "server_error", "param": None, "code": None}}
        assert "retry-after" not in failed.headers
    assert post_openai(fake, http, openai_body()).status_code == 200  # script used up

    # the same fault on a stream is an HTTP error before any event
    fake.fail_next("openai", 429, message="slow down")
    response, events = openai_stream(fake, http, openai_body())
    assert (response.status_code, events) == (429, [])
    assert response.headers["retry-after"] == "1"


def test_openai_unknown_model_and_bad_request(http: httpx.Client) -> None:
    with FakeModels(models=[OPENAI_MODEL]) as fake:
        response = post_openai(fake, http, {**openai_body(), "model": "gpt-nope"})
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "model_not_found"
        assert "`gpt-nope` does not exist" in error["message"]
        bad = post_openai(fake, http, {"model": OPENAI_MODEL, "messages": []})
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        unknown_path = http.post(f"{fake.root}/v1/completions", json={})
        assert unknown_path.status_code == 404


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_non_stream(fake: FakeModels, http: httpx.Client) -> None:
    response = post_anthropic(fake, http, anthropic_body("hello there"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("msg_")
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == ANTHROPIC_MODEL
    assert body["content"] == [{"type": "text", "text": "echo: hello there"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"] == {"input_tokens": 4, "output_tokens": 3}  # system counts too
    assert response.headers["request-id"].startswith("req_")


def test_anthropic_stream(fake: FakeModels, http: httpx.Client) -> None:
    fake.reply("One two three", pieces=2)
    response, events = anthropic_stream(fake, http, anthropic_body())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping",
                     "content_block_delta", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    data = [json.loads(raw) for _, raw in events]
    assert [d["type"] for d in data] == names  # the data repeats the event name
    start = data[0]["message"]
    assert start["role"] == "assistant" and start["content"] == []
    assert start["usage"]["input_tokens"] == 4
    assert data[1] == {"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}}
    assert data[3]["delta"] == {"type": "text_delta", "text": "One two"}
    assert data[4]["index"] == 0
    assert anthropic_text(events) == "One two three"
    assert data[6]["delta"]["stop_reason"] == "end_turn"
    assert data[6]["usage"] == {"output_tokens": 3}


def test_anthropic_auth(fake: FakeModels, http: httpx.Client) -> None:
    expected = {"type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    wrong = post_anthropic(fake, http, anthropic_body(), key="nope")
    assert (wrong.status_code, wrong.json()) == (401, expected)
    missing = post_anthropic(fake, http, anthropic_body(), key=None)
    assert (missing.status_code, missing.json()) == (401, expected)
    no_version = post_anthropic(fake, http, anthropic_body(), version=None)
    assert no_version.status_code == 400
    assert no_version.json()["error"]["type"] == "invalid_request_error"
    # a "system" role inside messages is rejected, as by the real API
    system_role = {**anthropic_body(), "messages": [{"role": "system", "content": "x"},
                                                    {"role": "user", "content": "hi"}]}
    assert post_anthropic(fake, http, system_role).status_code == 400
    no_max_tokens = {k: v for k, v in anthropic_body().items() if k != "max_tokens"}
    assert post_anthropic(fake, http, no_max_tokens).json()["error"]["message"] == (
        "max_tokens: Field required")


def test_anthropic_errors(fake: FakeModels, http: httpx.Client) -> None:
    fake.fail_next("anthropic", 429, retry_after=3)
    fake.fail_next("anthropic", 500)
    fake.fail_next("anthropic", 529)
    limited = post_anthropic(fake, http, anthropic_body())
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    server = post_anthropic(fake, http, anthropic_body())
    assert (server.status_code, server.json()["error"]["type"]) == (500, "api_error")
    overloaded = post_anthropic(fake, http, anthropic_body())
    assert overloaded.json() == {"type": "error",
                                 "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert overloaded.status_code == 529
    assert post_anthropic(fake, http, anthropic_body()).status_code == 200


def test_anthropic_error_mid_stream(fake: FakeModels, http: httpx.Client) -> None:
    fake.reply("alpha beta gamma")
    fake.error_mid_stream_next("anthropic", after_pieces=1)
    response, events = anthropic_stream(fake, http, anthropic_body())
    assert response.status_code == 200
    assert [name for name, _ in events][-2:] == ["content_block_delta", "error"]
    assert json.loads(events[-1][1]) == {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert anthropic_text(events) == "alpha "
    # a broken-off call leaves the scripted reply for the retry
    _, retry = anthropic_stream(fake, http, anthropic_body())
    assert anthropic_text(retry) == "alpha beta gamma"


def test_openai_error_mid_stream(fake: FakeModels, http: httpx.Client) -> None:
    fake.error_mid_stream_next("openai", after_pieces=2)
    _, events = openai_stream(fake, http, openai_body("x y z"))
    assert json.loads(events[-1][1])["error"]["type"] == "server_error"
    assert openai_text(events[:-1]) == "echo: x "


# --------------------------------------------------------------------------- broken streams


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_malformed_stream(fake: FakeModels, http: httpx.Client, api: str) -> None:
    fake.reply("good bad")
    fake.malformed_next(api)  # type: ignore[arg-type]
    call = openai_stream if api == "openai" else anthropic_stream
    body = openai_body() if api == "openai" else anthropic_body()
    response, events = call(fake, http, body)
    assert response.status_code == 200
    assert events[-1][1] == "{not json"
    valid = events[:-1]
    assert (openai_text(valid) if api == "openai" else anthropic_text(valid)) == "good "
    _, again = call(fake, http, body)  # the next call is healthy
    assert (openai_text(again) if api == "openai" else anthropic_text(again)) == "good bad"


def test_malformed_non_stream(fake: FakeModels, http: httpx.Client) -> None:
    fake.malformed_next("openai")
    response = post_openai(fake, http, openai_body())
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_cut_stream_is_a_network_error(fake: FakeModels) -> None:
    fake.cut_next("anthropic", after_pieces=1)
    with httpx.Client(timeout=5) as client, pytest.raises(httpx.RemoteProtocolError):
        anthropic_stream(fake, client, anthropic_body())


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_stall_times_out_then_stop_releases(fake: FakeModels, api: str) -> None:
    fake.stall_next(api, after_pieces=1)  # type: ignore[arg-type]
    call = openai_stream if api == "openai" else anthropic_stream
    body = openai_body() if api == "openai" else anthropic_body()
    seen: list[str] = []
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            url = (f"{fake.openai_base_url}/chat/completions" if api == "openai"
                   else f"{fake.anthropic_base_url}/v1/messages")
            headers = openai_headers() if api == "openai" else anthropic_headers()
            with client.stream("POST", url, json={**body, "stream": True},
                               headers=headers) as response:
                for line in response.iter_lines():
                    seen.append(line)
        assert time.monotonic() - started < 2
    assert any("echo: " in line for line in seen)  # the first piece arrived before the stall
    fake.wait_for(lambda f: f.disconnects == 1)  # the fake noticed the client giving up

    fake.stall_next(api)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def stalled_call() -> None:
        with httpx.Client(timeout=10) as client:
            try:
                call(fake, client, body)
            except httpx.HTTPError as error:
                errors.append(error)

    caller = threading.Thread(target=stalled_call)
    caller.start()
    fake.wait_for(lambda f: f.stalled == 1)
    started = time.monotonic()
    fake.stop()
    caller.join(timeout=3)
    assert not caller.is_alive()
    assert time.monotonic() - started < 2
    assert len(errors) == 1 and isinstance(errors[0], httpx.RemoteProtocolError)


def test_stall_release_finishes_the_stream(fake: FakeModels) -> None:
    fake.reply("slow and steady")
    fake.stall_next("openai", after_pieces=2)
    results: list[list[Any]] = []

    def streamed() -> None:
        with httpx.Client(timeout=5) as client:
            results.append(openai_stream(fake, client, openai_body())[1])

    caller = threading.Thread(target=streamed)
    caller.start()
    fake.wait_for(lambda f: f.stalled == 1)
    fake.release()
    caller.join(timeout=5)
    assert openai_text(results[0]) == "slow and steady"
    assert results[0][-1] == (None, "[DONE]")
    assert fake.stalled == 0


def test_stall_non_stream_then_release(fake: FakeModels, http: httpx.Client) -> None:
    fake.stall_next("anthropic")
    results: list[httpx.Response] = []
    caller = threading.Thread(
        target=lambda: results.append(post_anthropic(fake, http, anthropic_body())))
    caller.start()
    fake.wait_for(lambda f: f.stalled == 1)
    assert results == []
    fake.release()
    caller.join(timeout=5)
    assert results[0].json()["content"][0]["text"] == "echo: hello there"


def test_delay_pieces(fake: FakeModels, http: httpx.Client) -> None:
    fake.delay_pieces(0.05)
    started = time.monotonic()
    _, events = anthropic_stream(fake, http, anthropic_body("a b c"))  # 4 pieces, 3 gaps
    assert time.monotonic() - started >= 0.15
    assert anthropic_text(events) == "echo: a b c"


# --------------------------------------------------------------------------- scripting, log


def test_replies_queue_and_request_log(fake: FakeModels, http: httpx.Client) -> None:
    fake.queue_replies(["first", ("second reply", ["sec", "ond reply"])])
    assert post_openai(fake, http, openai_body()).json()["choices"][0]["message"][
        "content"] == "first"
    _, events = anthropic_stream(fake, http, anthropic_body())
    assert [json.loads(d)["delta"]["text"] for n, d in events if n == "content_block_delta"] == [
        "sec", "ond reply"]
    assert post_openai(fake, http, openai_body("again")).json()["choices"][0]["message"][
        "content"] == "echo: again"  # back to the default

    assert [api for api, _, _ in fake.requests] == ["openai", "anthropic", "openai"]
    _, headers, body = fake.requests[1]
    assert headers["x-api-key"] == "test-key"
    assert headers["anthropic-version"] == "2023-06-01"
    assert body["stream"] is True and body["system"] == "be brief"
    assert fake.requests[0][1]["authorization"] == "Bearer test-key"
    assert [b["messages"][-1]["content"] for b in fake.bodies("openai")] == [
        "hello there", "again"]
    fake.wait_for(lambda f: len(f.requests) == 3, timeout=1)
    with pytest.raises(AssertionError, match="condition not met"):
        fake.wait_for(lambda f: len(f.requests) == 4, timeout=0.05)


def test_scripting_validation(fake: FakeModels) -> None:
    with pytest.raises(ValueError):
        fake.reply("abc", pieces=["a", "b"])
    with pytest.raises(ValueError):
        fake.fail_next("gemini", 500)  # type: ignore[arg-type]
    assert split_pieces("one two  three") == ["one ", "two  ", "three"]
    assert split_pieces("abcdefg", 3) == ["abc", "def", "g"]
    assert fake.openai_base_url == f"http://127.0.0.1:{fake.port}/v1"
    assert fake.anthropic_base_url == f"http://127.0.0.1:{fake.port}"
    assert fake.api_key == "test-key"


def test_concurrent_streams(fake: FakeModels, http: httpx.Client) -> None:
    texts: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        _, events = openai_stream(fake, http, openai_body(f"n{i}"))
        with lock:
            texts.append(openai_text(events))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(texts) == sorted(f"echo: n{i}" for i in range(20))
