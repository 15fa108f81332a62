"""Unit tests for the model providers: SSE parsing, OpenAI, Anthropic, offline, registry.

HTTP providers run against ``httpx.MockTransport`` answering with streamed SSE bodies
cut into small chunks (so events straddle reads); the last tests run both providers
over real sockets against ``tests/fake_models.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw.agent.providers.anthropic import AnthropicProvider
from openclaw.agent.providers.base import Completion, Delta, Message, ProviderError
from openclaw.agent.providers.offline import (
    OfflineProvider,
    evaluate_arithmetic,
    offline_reply,
)
from openclaw.agent.providers.openai import OpenAIProvider
from openclaw.agent.providers.registry import (
    BUILTIN_PROVIDERS,
    build_provider,
    parse_model_ref,
)
from openclaw.agent.providers.sse import Event, SSEError, SSEParser, parse_retry_after
from openclaw.config import parse_config

T = TypeVar("T")
KEY = "sk-test-0123456789abcdef"
USER = [Message("user", "Say hello")]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


# --- helpers: SSE bodies and a recording MockTransport --------------------------------------


def sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {text}\n\n".encode()


def openai_body(pieces: Iterable[str], *, model: str = "gpt-4o-mini-2024-07-18",
                usage: tuple[int, int] | None = (9, 4), done: bool = True,
                finish: str = "stop") -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model}
    out = sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]})
    for piece in pieces:
        out += sse({**base, "choices": [{"index": 0, "delta": {"content": piece},
                                         "finish_reason": None}], "usage": None})
    out += sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if usage:
        out += sse({**base, "choices": [], "usage": {"prompt_tokens": usage[0],
                                                     "completion_tokens": usage[1],
                                                     "total_tokens": sum(usage)}})
    return out + (sse("[DONE]") if done else b"")


def anthropic_body(pieces: Iterable[str], *, model: str = "claude-sonnet-4-5",
                   usage: tuple[int, int] = (11, 5), stop: bool = True,
                   stop_reason: str = "end_turn") -> bytes:
    out = sse({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "usage": {"input_tokens": usage[0], "output_tokens": 1}}},
        "message_start")
    out += sse({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}, "content_block_start")
    out += sse({"type": "ping"}, "ping")
    for piece in pieces:
        out += sse({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
    out += sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    out += sse({"type": "message_delta", "delta": {"stop_reason": stop_reason},
                "usage": {"output_tokens": usage[1]}}, "message_delta")
    return out + (sse({"type": "message_stop"}, "message_stop") if stop else b"")


def end_of_event(data: bytes, marker: bytes) -> int:
    """The offset just past the event holding ``marker``."""
    return data.index(b"\n\n", data.index(marker)) + 2


def chunks_of(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


async def body_stream(chunks: list[bytes], *, stall_after: int | None = None,
                      error_after: int | None = None) -> AsyncIterator[bytes]:
    for index, chunk in enumerate(chunks):
        if index == stall_after:
            await asyncio.sleep(30)
        if index == error_after:
            raise httpx.ReadError("connection reset by peer")
        yield chunk


def stream_response(data: bytes, *, status: int = 200, chunk: int = 7,
                    stall_after_bytes: int | None = None,
                    error_after_bytes: int | None = None) -> httpx.Response:
    chunks = chunks_of(data, chunk)
    stall = None if stall_after_bytes is None else -(-stall_after_bytes // chunk)
    error = None if error_after_bytes is None else -(-error_after_bytes // chunk)
    return httpx.Response(status, headers={"content-type": "text/event-stream"},
                          content=body_stream(chunks, stall_after=stall, error_after=error))


def error_response(status: int, payload: Any, headers: dict[str, str] | None = None
                   ) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


Answer = httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


class Recorder:
    """A MockTransport handler: records requests, answers from a script (last one repeats)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        response = answer if isinstance(answer, httpx.Response) else await answer(request)
        self.responses.append(response)
        return response

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def openai(recorder: Recorder, key: str | None = KEY,
           base_url: str = "https://api.openai.com/v1") -> OpenAIProvider:
    return OpenAIProvider("openai", base_url, key, transport=recorder.transport())


def anthropic(recorder: Recorder, key: str | None = KEY,
              base_url: str = "https://api.anthropic.com") -> AnthropicProvider:
    return AnthropicProvider("anthropic", base_url, key, transport=recorder.transport())


async def collect(provider: Any, messages: list[Message] = USER, *, model: str = "m",
                  timeout_s: float = 5.0, **kwargs: Any) -> tuple[list[str], Completion]:
    deltas: list[str] = []
    completion: Completion | None = None
    async for item in provider.stream(model, messages, timeout_s=timeout_s, **kwargs):
        assert completion is None, "nothing may follow the Completion"
        if isinstance(item, Delta):
            deltas.append(item.text)
        else:
            completion = item
    assert completion is not None
    return deltas, completion


async def failure(provider: Any, messages: list[Message] = USER, *, timeout_s: float = 5.0
                  ) -> tuple[list[str], ProviderError]:
    """Stream until the ProviderError; return the deltas seen before it and the error."""
    deltas: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for item in provider.stream("m", messages, timeout_s=timeout_s):
            if isinstance(item, Delta):
                deltas.append(item.text)
    return deltas, caught.value


# --- the SSE parser -------------------------------------------------------------------------

PARSER_CASES: list[tuple[str, list[bytes], list[tuple[str, str]]]] = [
    ("lf", [b"data: a\n\n"], [("message", "a")]),
    ("crlf", [b"event: x\r\ndata: y\r\n\r\n"], [("x", "y")]),
    ("cr", [b"data: a\r\rdata: b\r\r"], [("message", "a"), ("message", "b")]),
    ("crlf split across chunks", [b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"],
     [("message", "a"), ("message", "b")]),
    ("multi-line data", [b"data: a\ndata: b\ndata:\n\n"], [("message", "a\nb\n")]),
    ("comment", [b": keep-alive\n\n:\ndata: x\n\n"], [("message", "x")]),
    ("no space after colon", [b"data:x\n\n"], [("message", "x")]),
    ("only one space removed", [b"data:  x \n\n"], [("message", " x ")]),
    ("field without colon", [b"data\n\n"], [("message", "")]),
    ("event without data is dropped", [b"event: foo\n\ndata: x\n\n"], [("message", "x")]),
    ("unknown fields ignored", [b"foo: bar\nid: 7\nretry: 10\ndata: x\n\n"], [("message", "x")]),
    ("bom", [b"\xef\xbb\xbfdata: x\n\n"], [("message", "x")]),
    ("utf-8 split", [b"data: caf\xc3", b"\xa9\n\n"], [("message", "café")]),
    ("partial chunks", [b"da", b"ta: hel", b"lo\n", b"\n"], [("message", "hello")]),
    ("incomplete event held back", [b"data: a\n"], []),
    ("several events in one chunk", [b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"],
     [("a", "1"), ("b", "2")]),
]


@pytest.mark.parametrize(("chunks", "expected"), [case[1:] for case in PARSER_CASES],
                         ids=[case[0] for case in PARSER_CASES])
def test_sse_parser_table(chunks: list[bytes], expected: list[tuple[str, str]]) -> None:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    assert [(e.event, e.data) for e in events] == expected


def test_sse_parser_fields_and_close() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 42\nretry: 1500\ndata: x\n\n") == [Event("message", "x")]
    assert (parser.last_event_id, parser.retry_ms) == ("42", 1500)
    assert parser.feed(b"event: last\ndata: tail") == []
    assert parser.close() == [Event("last", "tail")]  # lenient: no final blank line needed
    assert parser.close() == []


def test_sse_parser_refuses_endless_line() -> None:
    parser = SSEParser(max_line_bytes=100)
    parser.feed(b"data: " + b"x" * 90)
    with pytest.raises(SSEError):
        parser.feed(b"x" * 20)


STREAM = (b"\xef\xbb\xbf: hi\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: caf\xc3\xa9\n\n"
          b"data: three\r\rid: 9\nevent: z\ndata:\n\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_sse_parser_chunking_does_not_matter(cuts: list[int]) -> None:
    whole = SSEParser().feed(STREAM)
    parser = SSEParser()
    events: list[Event] = []
    previous = 0
    for cut in [*sorted(cuts), len(STREAM)]:
        events += parser.feed(STREAM[previous:cut])
        previous = cut
    assert events == whole
    assert [e.data for e in whole] == ["1\n2", "café", "three", ""]


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


# --- OpenAI ---------------------------------------------------------------------------------


def test_openai_happy_stream_and_request() -> None:
    pieces = ["Hel", "lo, ", "wor", "ld", "! ✓"]
    recorder = Recorder(stream_response(openai_body(pieces), chunk=5))
    provider = openai(recorder)
    messages = [Message("system", "Be brief."), Message("user", "Say hello"),
                Message("assistant", "Hi"), Message("user", "Again")]
    deltas, completion = run(collect(provider, messages, model="gpt-4o-mini", max_tokens=50))
    assert deltas == pieces
    assert "".join(deltas) == "Hello, world! ✓"
    assert completion == Completion(model="gpt-4o-mini-2024-07-18",
                                    usage={"inputTokens": 9, "outputTokens": 4},
                                    stop_reason="end_turn")
    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    body = recorder.json()
    assert body == {"model": "gpt-4o-mini",
                    "messages": [{"role": m.role, "content": m.content} for m in messages],
                    "stream": True, "stream_options": {"include_usage": True},
                    "max_completion_tokens": 50}
    assert request.extensions["timeout"]["read"] == 5.0


def test_openai_compatible_server_without_key() -> None:
    recorder = Recorder(stream_response(openai_body(["ok"], usage=None, finish="length")))
    provider = openai(recorder, key=None, base_url="http://127.0.0.1:11434/v1/")
    deltas, completion = run(collect(provider, max_tokens=5))
    assert deltas == ["ok"]
    assert completion.usage == {} and completion.stop_reason == "max_tokens"
    request = recorder.requests[0]
    assert "authorization" not in request.headers
    assert str(request.url) == "http://127.0.0.1:11434/v1/chat/completions"
    assert recorder.json()["max_tokens"] == 5  # not api.openai.com: the classic field
    assert "max_tokens" not in OpenAIProvider("o", "http://x", None).request_body("m", USER)


@pytest.mark.parametrize(("status", "payload", "headers", "kind", "retryable", "retry_after"), [
    (401, {"error": {"message": "Incorrect API key provided: sk-te***cdef.",
                     "type": "invalid_request_error", "code": "invalid_api_key"}},
     None, "auth", False, None),
    (403, {"error": {"message": "Country not supported", "type": "invalid_request_error"}},
     None, "auth", False, None),
    (429, {"error": {"message": "Rate limit reached", "type": "requests",
                     "code": "rate_limit_exceeded"}}, {"retry-after": "7"},
     "rate-limit", True, 7.0),
    (429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                     "code": "insufficient_quota"}}, None, "rate-limit", False, None),
    (500, {"error": {"message": "The server had an error", "type": "server_error"}},
     None, "server", True, None),
    (503, {"error": {"message": "overloaded", "type": "server_error"}}, {"retry-after": "2"},
     "server", True, 2.0),
    (400, {"error": {"message": "Unsupported parameter: 'max_tokens'",
                     "type": "invalid_request_error"}}, None, "bad-request", False, None),
    (404, {"error": {"message": "The model `gpt-9` does not exist",
                     "type": "invalid_request_error", "code": "model_not_found"}},
     None, "bad-request", False, None),
])
def test_openai_http_errors(status: int, payload: Any, headers: dict[str, str] | None,
                            kind: str, retryable: bool, retry_after: float | None) -> None:
    recorder = Recorder(error_response(status, payload, headers))
    deltas, error = run(failure(openai(recorder)))
    assert deltas == []
    assert (error.kind, error.status, error.retryable) == (kind, status, retryable)
    assert error.retry_after_s == retry_after
    assert payload["error"]["message"] in error.message
    assert error.message.startswith("openai ")
    assert recorder.responses[0].is_closed


def test_openai_error_body_that_is_not_json() -> None:
    recorder = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>"))
    _, error = run(failure(openai(recorder)))
    assert (error.kind, error.status, error.retryable) == ("server", 502, True)
    assert "Bad Gateway" in error.message


def test_openai_key_never_in_errors_or_reprs() -> None:
    recorder = Recorder(error_response(401, {"error": {"message": f"bad key {KEY}"}}))
    provider = openai(recorder)
    _, error = run(failure(provider))
    assert KEY not in error.message and KEY not in str(error) and "***" in error.message
    assert KEY not in repr(provider) and KEY not in json.dumps(provider.describe())
    assert provider.describe() == {"id": "openai", "api": "openai-completions",
                                   "baseUrl": "https://api.openai.com/v1", "keySource": "config"}


def test_a_short_test_key_does_not_mangle_messages() -> None:
    recorder = Recorder(error_response(401, {"error": {"message": "Incorrect API key"}}))
    _, error = run(failure(openai(recorder, key="k")))
    assert "refused the API key" in error.message and "Incorrect API key" in error.message


def test_openai_connect_error_is_retryable_network() -> None:
    recorder = Recorder(httpx.ConnectError("[Errno 111] Connection refused"))
    _, error = run(failure(openai(recorder)))
    assert (error.kind, error.retryable) == ("network", True)
    assert "api.openai.com" in error.message and "refused" in error.message


def test_openai_read_timeout_before_headers_is_retryable() -> None:
    recorder = Recorder(httpx.ReadTimeout("timed out"))
    _, error = run(failure(openai(recorder)))
    assert (error.kind, error.retryable) == ("timeout", True)


def test_openai_malformed_json_before_and_after_first_delta() -> None:
    head = sse({"choices": [{"delta": {"content": "Hi"}}]})
    recorder = Recorder(stream_response(b"data: {not json\n\n"),
                        stream_response(head + b"data: {not json\n\n"))
    provider = openai(recorder)
    deltas, error = run(failure(provider))
    assert deltas == [] and (error.kind, error.retryable) == ("malformed", True)
    deltas, error = run(failure(provider))
    assert deltas == ["Hi"] and (error.kind, error.retryable) == ("malformed", False)
    assert "not JSON" in error.message


def test_openai_stream_without_done() -> None:
    recorder = Recorder(stream_response(openai_body(["a", "b"], done=False)))
    deltas, error = run(failure(openai(recorder)))
    assert deltas == ["a", "b"]
    assert (error.kind, error.retryable) == ("malformed", False)
    assert "[DONE]" in error.message


def test_openai_non_stream_answer_is_malformed() -> None:
    recorder = Recorder(httpx.Response(200, json={"object": "chat.completion"}))
    _, error = run(failure(openai(recorder)))
    assert (error.kind, error.retryable) == ("malformed", True)
    assert "not an event stream" in error.message and "application/json" in error.message


def test_openai_error_inside_the_stream() -> None:
    head = sse({"choices": [{"delta": {"content": "Par"}}]})
    bad = sse({"error": {"message": "The server had an error", "type": "server_error"}})
    recorder = Recorder(stream_response(bad), stream_response(head + bad))
    provider = openai(recorder)
    deltas, error = run(failure(provider))
    assert deltas == [] and (error.kind, error.retryable) == ("server", True)
    deltas, error = run(failure(provider))
    assert deltas == ["Par"] and (error.kind, error.retryable) == ("server", False)


def test_openai_connection_lost_mid_stream() -> None:
    data = openai_body(["one ", "two ", "three"])
    recorder = Recorder(stream_response(data, error_after_bytes=len(data) // 2))
    deltas, error = run(failure(openai(recorder)))
    assert deltas and (error.kind, error.retryable) == ("network", False)


def test_openai_timeout_before_any_delta() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    recorder = Recorder(slow)

    async def scenario() -> tuple[float, ProviderError]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, error = await failure(openai(recorder), timeout_s=0.2)
        return loop.time() - started, error

    elapsed, error = run(scenario())
    assert (error.kind, error.retryable) == ("timeout", True)
    assert elapsed < 2 and "0.2s" in error.message


def test_openai_timeout_after_a_delta_is_final() -> None:
    data = openai_body(["first ", "second"])
    recorder = Recorder(stream_response(data, chunk=8,
                                        stall_after_bytes=end_of_event(data, b"first")))
    deltas, error = run(failure(openai(recorder), timeout_s=0.3))
    assert deltas == ["first "]
    assert (error.kind, error.retryable) == ("timeout", False)
    assert recorder.responses[0].is_closed


def test_openai_consumer_stopping_early_closes_the_response() -> None:
    recorder = Recorder(stream_response(openai_body(["a", "b", "c"])))

    async def scenario() -> None:
        stream = openai(recorder).stream("m", USER, timeout_s=5)
        assert await anext(stream) == Delta("a")
        await stream.aclose()  # type: ignore[attr-defined]

    run(scenario())
    assert recorder.responses[0].is_closed


def test_openai_bad_base_url() -> None:
    provider = OpenAIProvider("x", "ftp://example.com", None,
                              transport=httpx.AsyncHTTPTransport())
    _, error = run(failure(provider))
    assert (error.kind, error.retryable) == ("bad-request", False)


# --- Anthropic ------------------------------------------------------------------------------


def test_anthropic_happy_stream_and_request() -> None:
    pieces = ["Bon", "jour", " à", " tous"]
    recorder = Recorder(stream_response(anthropic_body(pieces), chunk=6))
    provider = anthropic(recorder)
    messages = [Message("system", "Be brief."), Message("user", "one"), Message("user", "two"),
                Message("system", "Answer in French."), Message("assistant", "ok"),
                Message("assistant", ""), Message("assistant", "sure"), Message("user", "three")]
    deltas, completion = run(collect(provider, messages, model="claude-x"))
    assert "".join(deltas) == "Bonjour à tous" and deltas == pieces
    assert completion == Completion(model="claude-sonnet-4-5",
                                    usage={"inputTokens": 11, "outputTokens": 5},
                                    stop_reason="end_turn")
    request = recorder.requests[0]
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert recorder.json() == {
        "model": "claude-x", "max_tokens": 1024, "stream": True,
        "system": "Be brief.\n\nAnswer in French.",
        "messages": [{"role": "user", "content": "one\n\ntwo"},
                     {"role": "assistant", "content": "ok\n\nsure"},
                     {"role": "user", "content": "three"}],
    }


def test_anthropic_request_details() -> None:
    recorder = Recorder(stream_response(anthropic_body(["x"], stop_reason="max_tokens")))
    provider = anthropic(recorder, key=None, base_url="http://proxy.local/v1/")
    _, completion = run(collect(provider, [Message("user", "hi"),
                                           Message("assistant", "Sure:  \n")], max_tokens=7))
    assert completion.stop_reason == "max_tokens"
    assert str(recorder.requests[0].url) == "http://proxy.local/v1/messages"
    assert "x-api-key" not in recorder.requests[0].headers
    body = recorder.json()
    assert body["max_tokens"] == 7 and "system" not in body
    assert body["messages"][-1] == {"role": "assistant", "content": "Sure:"}  # a prefill


def test_anthropic_nothing_to_send_fails_before_the_network() -> None:
    recorder = Recorder(stream_response(anthropic_body(["x"])))
    _, error = run(failure(anthropic(recorder), [Message("system", "only a system prompt")]))
    assert (error.kind, error.retryable) == ("bad-request", False)
    assert recorder.requests == []


@pytest.mark.parametrize(("status", "error_type", "headers", "kind", "retryable", "after"), [
    (401, "authentication_error", None, "auth", False, None),
    (403, "permission_error", None, "auth", False, None),
    (429, "rate_limit_error", {"retry-after": "12"}, "rate-limit", True, 12.0),
    (500, "api_error", None, "server", True, None),
    (529, "overloaded_error", None, "server", True, None),
    (400, "invalid_request_error", None, "bad-request", False, None),
    (404, "not_found_error", None, "bad-request", False, None),
])
def test_anthropic_http_errors(status: int, error_type: str, headers: dict[str, str] | None,
                               kind: str, retryable: bool, after: float | None) -> None:
    message = f"something about {error_type}"
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    recorder = Recorder(error_response(status, payload, headers))
    _, error = run(failure(anthropic(recorder)))
    assert (error.kind, error.status, error.retryable) == (kind, status, retryable)
    assert error.retry_after_s == after
    assert message in error.message


@pytest.mark.parametrize(("error_type", "kind", "retryable_before"), [
    ("overloaded_error", "server", True),
    ("api_error", "server", True),
    ("rate_limit_error", "rate-limit", True),
    ("authentication_error", "auth", False),
    ("invalid_request_error", "bad-request", False),
])
def test_anthropic_error_event(error_type: str, kind: str, retryable_before: bool) -> None:
    event = sse({"type": "error", "error": {"type": error_type, "message": "Overloaded"}},
                "error")
    head = anthropic_body([])[:anthropic_body([]).index(b"event: content_block_stop")]
    delta = sse({"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": "Part"}}, "content_block_delta")
    recorder = Recorder(stream_response(head + event), stream_response(head + delta + event))
    provider = anthropic(recorder)
    deltas, error = run(failure(provider))
    assert deltas == [] and (error.kind, error.retryable) == (kind, retryable_before)
    assert error_type in error.message and "Overloaded" in error.message
    deltas, error = run(failure(provider))
    assert deltas == ["Part"] and (error.kind, error.retryable) == (kind, False)


def test_anthropic_stream_without_message_stop() -> None:
    recorder = Recorder(stream_response(anthropic_body(["a"], stop=False)))
    deltas, error = run(failure(anthropic(recorder)))
    assert deltas == ["a"] and (error.kind, error.retryable) == ("malformed", False)
    assert "message_stop" in error.message


def test_anthropic_malformed_event() -> None:
    recorder = Recorder(stream_response(b"event: content_block_delta\ndata: {oops\n\n"))
    _, error = run(failure(anthropic(recorder)))
    assert (error.kind, error.retryable) == ("malformed", True)


def test_anthropic_ignores_other_blocks_and_unknown_events() -> None:
    extra = (sse({"type": "content_block_delta", "index": 1,
                  "delta": {"type": "thinking_delta", "thinking": "hmm"}}, "content_block_delta")
             + sse({"type": "future_event"}, "future_event") + b": comment\n\n")
    data = anthropic_body(["yes"])
    at = data.index(b"event: content_block_stop")
    recorder = Recorder(stream_response(data[:at] + extra + data[at:]))
    deltas, _ = run(collect(anthropic(recorder)))
    assert deltas == ["yes"]


def test_anthropic_timeout_and_describe() -> None:
    data = anthropic_body(["a", "b"])
    recorder = Recorder(stream_response(data, chunk=10,
                                        stall_after_bytes=end_of_event(data, b'"text": "a"')))
    provider = anthropic(recorder)
    deltas, error = run(failure(provider, timeout_s=0.3))
    assert deltas == ["a"] and (error.kind, error.retryable) == ("timeout", False)
    assert provider.describe() == {"id": "anthropic", "api": "anthropic-messages",
                                   "baseUrl": "https://api.anthropic.com",
                                   "keySource": "config"}
    assert KEY not in repr(provider)


# --- offline --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "reply"), [
    ("what is 2+3", "(offline model) 2 + 3 = 5"),
    ("What is (1.5 + 2) * 4?", "(offline model) (1.5 + 2) * 4 = 14"),
    ("whats 7/2", "(offline model) 7 / 2 = 3.5"),
    ("what is 10 divided by 4", "(offline model) 10 / 4 = 2.5"),
    ("12 - -3 =", "(offline model) 12 - -3 = 15"),
    ("calculate 1/0", "(offline model) I cannot divide by zero."),
    ("what is 2**10", "(offline model) You said: what is 2**10"),
    ("what is __import__('os')", "(offline model) You said: what is __import__('os')"),
    ("what is the time?", "(offline model) You said: what is the time?"),
    ("  tell me a story  ", "(offline model) You said: tell me a story"),
])
def test_offline_reply_rules(text: str, reply: str) -> None:
    assert offline_reply([Message("user", text)]) == reply


def test_offline_greeting_and_empty() -> None:
    for greeting in ("hi", "Hello!", "hey there"):
        reply = offline_reply([Message("user", greeting)])
        assert reply.startswith("Hello!") and "offline model" in reply
    assert "no message" in offline_reply([Message("system", "x")])


def test_evaluate_arithmetic_is_safe() -> None:
    assert evaluate_arithmetic("0.1 + 0.2") == ("0.1 + 0.2", "0.3")
    assert evaluate_arithmetic("6 / 3") == ("6 / 3", "2")
    for bad in ("2 ** 8", "a + 1", "f(1) + 2", "[1] * 3", "True + 1", "5", "1e308 * 10",
                "(" * 500 + "1" + ")" * 500):
        with pytest.raises(ValueError):
            evaluate_arithmetic(bad)
    with pytest.raises(ZeroDivisionError):
        evaluate_arithmetic("1 / (2 - 2)")


def test_offline_stream_words_usage_and_determinism() -> None:
    provider = OfflineProvider()
    messages = [Message("system", "be nice"), Message("user", "please repeat these five words")]
    first = run(collect(provider, messages, model="echo"))
    assert first == run(collect(provider, messages, model="echo"))
    deltas, completion = first
    text = "(offline model) You said: please repeat these five words"
    assert "".join(deltas) == text
    assert all(len(piece.split()) == 1 for piece in deltas)
    assert completion == Completion(model="offline/echo",
                                    usage={"inputTokens": 7, "outputTokens": len(text.split())},
                                    stop_reason="end_turn")
    deltas, completion = run(collect(provider, messages, model="echo", max_tokens=3))
    assert "".join(deltas) == "(offline model) You "
    assert completion.stop_reason == "max_tokens" and completion.usage["outputTokens"] == 3
    assert provider.describe() == {"id": "offline", "api": "offline", "baseUrl": None,
                                   "keySource": "none"}


def test_offline_needs_no_network_and_shares_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the offline provider touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    words = " ".join(f"w{i}" for i in range(300))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def scenario() -> list[str]:
        task = asyncio.create_task(ticker())
        try:
            deltas, _ = await collect(OfflineProvider(), [Message("user", words)])
        finally:
            task.cancel()
        return deltas

    deltas = run(scenario())
    assert len(deltas) == 304  # "(offline model) You said:" and 300 words
    assert ticks >= 90  # the stream yielded to the loop every few words


# --- registry -------------------------------------------------------------------------------


def config(providers: dict[str, Any] | None = None) -> Any:
    return parse_config({"models": {"providers": providers or {}}})


@pytest.mark.parametrize(("ref", "expected"), [
    ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
    (" offline/echo ", ("offline", "echo")),
    ("openrouter/meta-llama/llama-3-8b", ("openrouter", "meta-llama/llama-3-8b")),
])
def test_parse_model_ref(ref: str, expected: tuple[str, str]) -> None:
    assert parse_model_ref(ref) == expected


@pytest.mark.parametrize("ref", ["gpt-4o", "/gpt-4o", "openai/", "", "  /  "])
def test_parse_model_ref_refuses(ref: str) -> None:
    with pytest.raises(ValueError, match="<provider>/<model>"):
        parse_model_ref(ref)


def test_builtin_providers() -> None:
    assert set(BUILTIN_PROVIDERS) == {"offline", "openai", "anthropic", "ollama"}
    env = {"OPENAI_API_KEY": "sk-env", "ANTHROPIC_API_KEY": "ak-env"}
    offline = build_provider("offline", config(), env)
    assert isinstance(offline, OfflineProvider) and offline.api == "offline"
    described = {pid: build_provider(pid, config(), env).describe()
                 for pid in ("openai", "anthropic", "ollama")}
    assert described == {
        "openai": {"id": "openai", "api": "openai-completions",
                   "baseUrl": "https://api.openai.com/v1", "keySource": "env:OPENAI_API_KEY"},
        "anthropic": {"id": "anthropic", "api": "anthropic-messages",
                      "baseUrl": "https://api.anthropic.com",
                      "keySource": "env:ANTHROPIC_API_KEY"},
        "ollama": {"id": "ollama", "api": "openai-completions",
                   "baseUrl": "http://127.0.0.1:11434/v1", "keySource": "none"},
    }
    assert "sk-env" not in repr(build_provider("openai", config(), env))


@pytest.mark.parametrize(("provider_id", "env"), [("openai", "OPENAI_API_KEY"),
                                                  ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_key_names_the_env_var(provider_id: str, env: str) -> None:
    with pytest.raises(ValueError) as caught:
        build_provider(provider_id, config(), {env: "  "})
    assert str(caught.value) == (f"no API key for {provider_id}: set {env} or "
                                 f"models.providers.{provider_id}.apiKey")


def test_key_sources_and_overrides() -> None:
    cfg = config({"openai": {"apiKey": "sk-config"}})
    assert build_provider("openai", cfg, {"OPENAI_API_KEY": "x"}).describe()["keySource"] == (
        "config")
    cfg = config({"openai": {"apiKeyEnv": "MY_OPENAI"}})
    assert build_provider("openai", cfg, {"MY_OPENAI": "k", "OPENAI_API_KEY": "x"}
                          ).describe()["keySource"] == "env:MY_OPENAI"
    assert build_provider("openai", cfg, {"OPENAI_API_KEY": "x"}
                          ).describe()["keySource"] == "env:OPENAI_API_KEY"
    with pytest.raises(ValueError, match=r"set MY_OPENAI or models\.providers\.openai\.apiKey"):
        build_provider("openai", cfg, {})
    # a built-in pointed elsewhere (a proxy, a fake) may go without a key
    cfg = config({"openai": {"baseUrl": "http://127.0.0.1:9999/v1/"}})
    provider = build_provider("openai", cfg, {})
    assert provider.describe() == {"id": "openai", "api": "openai-completions",
                                   "baseUrl": "http://127.0.0.1:9999/v1", "keySource": "none"}
    # a ModelsConfig works as well as a whole Config
    assert build_provider("ollama", cfg.models, {}).describe()["keySource"] == "none"


def test_custom_providers() -> None:
    cfg = config({"groq": {"api": "openai-completions",
                           "baseUrl": "https://api.groq.com/openai/v1", "apiKeyEnv": "GROQ"},
                  "claude-proxy": {"api": "anthropic-messages", "baseUrl": "http://proxy:8080"},
                  "half": {"baseUrl": "http://x"},
                  "offline": {"baseUrl": "http://x"}})
    groq = build_provider("groq", cfg, {"GROQ": "gk"})
    assert isinstance(groq, OpenAIProvider)
    assert groq.describe()["keySource"] == "env:GROQ"
    assert isinstance(build_provider("claude-proxy", cfg, {}), AnthropicProvider)
    with pytest.raises(ValueError, match=r"models\.providers\.half\.api"):
        build_provider("half", cfg, {})
    with pytest.raises(ValueError, match=r"models\.providers\.nope\.api and "
                                         r"models\.providers\.nope\.baseUrl"):
        build_provider("nope", cfg, {})
    with pytest.raises(ValueError, match=r"models\.providers\.offline"):
        build_provider("offline", cfg, {})
    bad = config({"odd": {"api": "openai-completions", "baseUrl": "ftp://x"}})
    with pytest.raises(ValueError, match=r"models\.providers\.odd\.baseUrl"):
        build_provider("odd", bad, {})


# --- against the loopback fake of both APIs ---------------------------------------------------


def _fake() -> Any:
    fake_models = pytest.importorskip("fake_models")
    return fake_models.FakeModels(api_key="fake-key").start()


def test_openai_against_fake_models() -> None:
    fake = _fake()
    try:
        provider = OpenAIProvider("fake", fake.openai_base_url, "fake-key")

        async def scenario() -> None:
            try:
                fake.reply("Hello from the fake server", pieces=["Hel", "lo from", " the fake",
                                                                 " server"])
                deltas, completion = await collect(
                    provider, [Message("system", "sys"), Message("user", "hi there")],
                    model="gpt-fake", max_tokens=20)
                assert deltas == ["Hel", "lo from", " the fake", " server"]
                assert completion.model == "gpt-fake" and completion.stop_reason == "end_turn"
                assert completion.usage == {"inputTokens": 3, "outputTokens": 5}
                fake.cut_next("openai", after_pieces=1)
                deltas, error = await failure(provider)
                assert len(deltas) == 1 and (error.kind, error.retryable) == ("network", False)
                fake.fail_next("openai", 429, retry_after=3)
                _, error = await failure(provider)
                assert (error.kind, error.retryable, error.retry_after_s) == (
                    "rate-limit", True, 3.0)
            finally:
                await provider.close()

        run(scenario())
        headers = fake.requests[0][1]
        assert headers["authorization"] == "Bearer fake-key"
        assert fake.bodies("openai")[0]["stream_options"] == {"include_usage": True}
    finally:
        fake.stop()


def test_anthropic_against_fake_models() -> None:
    fake = _fake()
    try:
        provider = AnthropicProvider("fake", fake.anthropic_base_url, "fake-key")

        async def scenario() -> None:
            try:
                fake.reply("Bonjour tout le monde")
                deltas, completion = await collect(
                    provider, [Message("system", "sys"), Message("user", "a"),
                               Message("user", "b")], model="claude-fake")
                assert "".join(deltas) == "Bonjour tout le monde" and len(deltas) == 4
                assert completion.model == "claude-fake"
                assert completion.usage == {"inputTokens": 3, "outputTokens": 4}
                fake.error_mid_stream_next("anthropic", after_pieces=0)
                deltas, error = await failure(provider)
                assert deltas == [] and (error.kind, error.retryable) == ("server", True)
                fake.stall_next("anthropic", after_pieces=1)
                deltas, error = await failure(provider, timeout_s=1.5)
                assert len(deltas) == 1 and (error.kind, error.retryable) == ("timeout", False)
            finally:
                await provider.close()

        run(scenario())
        body = fake.bodies("anthropic")[0]
        assert body["system"] == "sys" and body["messages"] == [
            {"role": "user", "content": "a\n\nb"}]
    finally:
        fake.stop()
