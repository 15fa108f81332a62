"""A loopback stand-in for model APIs that speaks their real wire formats.

One server, two APIs on one port:

* OpenAI Chat Completions — ``POST /v1/chat/completions``; point a provider's base URL at
  ``fake.openai_base_url`` (``http://127.0.0.1:PORT/v1``). Auth is ``Authorization: Bearer
  KEY``. Answers are ``chat.completion`` objects, or (``"stream": true``) an SSE stream of
  ``data: {chat.completion.chunk}`` events ending in ``data: [DONE]`` (with a ``choices: []``
  usage chunk first when ``stream_options.include_usage`` is set). Errors are
  ``{"error": {"message", "type", "param", "code"}}``.
* Anthropic Messages — ``POST /v1/messages``; base URL ``fake.anthropic_base_url``
  (``http://127.0.0.1:PORT``). Auth is ``x-api-key`` plus ``anthropic-version``. Answers are
  ``message`` objects, or an SSE stream of ``event: NAME`` / ``data: {...}`` pairs
  (message_start, content_block_start, ping, content_block_delta..., content_block_stop,
  message_delta, message_stop). Errors are ``{"type": "error", "error": {"type", "message"}}``.

Tests script it from the other side: ``reply`` / ``queue_replies`` choose the answer text
(default ``"echo: " + the last user message``, or of the last tool result when the
conversation ends with one) and how it is split into streamed pieces; ``reply_tool_calls``
makes the next answer ask for tools, streamed the way each API streams them (OpenAI
``delta.tool_calls`` fragments by index, the id and name first and the JSON arguments in
pieces; Anthropic ``tool_use`` blocks with ``input_json_delta`` pieces), finishing with
``tool_calls`` / ``tool_use``;
``fail_next``, ``malformed_next``, ``stall_next``, ``cut_next``, ``error_mid_stream_next`` and
``delay_pieces`` script failures; ``requests`` records every call as ``(api, headers, body)``,
and ``record_timings`` (off by default) keeps when each call arrived and streamed.
Every wait in here is event-driven, and ``stop()`` releases every waiting handler (cutting its
connection), so a test can never hang on the fake.

Scripted faults queue per API and each one is used by exactly one call, in order. A call that
fails or breaks off (fail, malformed, cut, mid-stream error) does not use up a scripted reply,
so a retry gets the same answer; a stalled call does (it finishes normally once released).

Stdlib only. Deliberate simplifications: tokens are counted as whitespace-separated words
(at least 1), ``max_tokens`` is accepted but never truncates, images are not modelled, tool
results are checked only for answering a call of the previous assistant message, and the
Anthropic ``anthropic-version`` header is only required when an API key is configured.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import select
import socket
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from loopback import LoopbackFake, TrackedHandler

Api = Literal["openai", "anthropic"]
APIS: tuple[Api, ...] = ("openai", "anthropic")
_ROUTES: dict[str, Api] = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}

# status → (error type, code, default message); "{model}" is filled in where it appears.
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found",
          "The model `{model}` does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, "
          "Requested 1. Please try again in 1s."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate "
                              "limit. Please try again later."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
_OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool"}
_GARBAGE = b"data: {not json\n\n"
_DEFAULT: Any = object()  # "use the usual value for this status"


class ApiError(Exception):
    """An HTTP error answer in one API's envelope."""

    def __init__(self, api: Api, status: int, message: str | None = None, *,
                 error_type: str | None = None, code: str | None = _DEFAULT,
                 retry_after: int | None = None, model: str = "") -> None:
        if api == "openai":
            kind, default_code, default_message = _OPENAI_ERRORS.get(
                status, ("server_error" if status >= 500 else "invalid_request_error", None,
                         f"HTTP {status}"))
            self.code = default_code if code is _DEFAULT else code
        else:
            kind, default_message = _ANTHROPIC_ERRORS.get(
                status, ("api_error" if status >= 500 else "invalid_request_error",
                         f"HTTP {status}"))
            self.code = None
        self.message = message if message is not None else default_message.format(
            model=model or "the model")
        super().__init__(self.message)
        self.api = api
        self.status = status
        self.error_type = error_type or kind
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        if self.api == "openai":
            return {"error": {"message": self.message, "type": self.error_type,
                              "param": None, "code": self.code}}
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"retry-after": str(self.retry_after)}


@dataclass(frozen=True)
class _Fault:
    """One scripted misbehaviour for one call."""

    kind: Literal["fail", "malformed", "stall", "cut", "stream-error"]
    after_pieces: int = 1
    error: ApiError | None = None


class _Abort(Exception):
    """Inside a handler: cut the connection now, without finishing the response."""


# --------------------------------------------------------------------------- helpers


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string or a list of ``{"type": "text"}`` blocks
    (``tool_result`` blocks count with their content)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", None):
                texts.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") == "tool_result":
                texts.append(text_of(part.get("content")))
        return " ".join(texts)
    return ""


def _has_blocks(content: Any, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` blocks (``tool_use``, ``tool_result``) of a message ``content``."""
    if not isinstance(content, list):
        return []
    return [part for part in content if isinstance(part, dict) and part.get("type") == kind]


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call a scripted answer makes: ``arguments`` are sent as JSON in pieces."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None
    pieces: int = 3  # how many fragments the JSON arguments are streamed in


def count_tokens(text: str) -> int:
    """The fake's token count: whitespace-separated words, at least 1."""
    return max(1, len(text.split()))


def split_pieces(text: str, pieces: Sequence[str] | int | None = None) -> list[str]:
    """Streamed pieces of ``text``: word by word (default), ``n`` even slices, or as given."""
    if pieces is None:
        return re.findall(r"\S+\s*|\s+", text)
    if isinstance(pieces, int):
        if pieces < 1:
            raise ValueError("pieces must be >= 1")
        size = -(-len(text) // pieces) or 1
        return [text[i:i + size] for i in range(0, len(text), size)]
    pieces = [str(piece) for piece in pieces]
    if "".join(pieces) != text:
        raise ValueError(f"pieces {pieces!r} do not add up to {text!r}")
    return pieces


def _sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


# --------------------------------------------------------------------------- the fake


class FakeModels(LoopbackFake):
    """The fake model server plus its scripting and inspection surface (see module doc).

    ``api_key``: the key both APIs require (None: no auth at all, like a local Ollama).
    ``models``: None accepts any model name; an iterable makes others a 404.
    """

    def __init__(self, api_key: str | None = "test-key",
                 models: Iterable[str] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = None if models is None else set(models)
        self.requests: list[tuple[Api, dict[str, str], Any]] = []
        self.stalled = 0  # calls currently hanging in a stall
        self.disconnects = 0  # responses the client hung up on before they ended
        self._replies: deque[tuple[str, list[str] | None, list[ScriptedCall]]] = deque()
        self._faults: dict[Api, deque[_Fault]] = {api: deque() for api in APIS}
        self._piece_delay = 0.0
        self._release_generation = 0
        self._ids = itertools.count(1)
        self.timings: list[dict[str, Any]] | None = None  # see record_timings()

    # -- lifecycle

    @property
    def openai_base_url(self) -> str:
        """Base URL for an ``openai-completions`` provider (calls ``/chat/completions``)."""
        return f"{self.root}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for an ``anthropic-messages`` provider (requests go to ``/v1/messages``)."""
        return self.root

    # -- scripting

    def reply(self, text: str, pieces: Sequence[str] | int | None = None) -> None:
        """Answer the next call (either API) with ``text``, streamed as ``pieces``: a list
        that concatenates to ``text``, a number of even slices, or None for word by word."""
        split = None if pieces is None else split_pieces(text, pieces)  # validate here
        with self._lock:
            self._replies.append((text, split, []))

    def reply_tool_calls(self, calls: Sequence[ScriptedCall | tuple[str, dict[str, Any]]],
                         text: str = "", pieces: Sequence[str] | int | None = None) -> None:
        """Answer the next call (either API) by asking for ``calls`` (each a ScriptedCall or
        ``(name, arguments)``), after streaming ``text`` (may be empty)."""
        split = None if pieces is None else split_pieces(text, pieces)
        scripted = [call if isinstance(call, ScriptedCall) else ScriptedCall(*call)
                    for call in calls]
        with self._lock:
            self._replies.append((text, split, scripted))

    def queue_replies(self, replies: Iterable[str | tuple[str, Sequence[str] | int]]) -> None:
        """Answer the next calls in order: each item a text or ``(text, pieces)``."""
        for item in replies:
            if isinstance(item, str):
                self.reply(item)
            else:
                self.reply(*item)

    def fail_next(self, api: Api, status: int, message: str | None = None,
                  retry_after: int | None = None, count: int = 1, *,
                  error_type: str | None = None) -> None:
        """Answer the next ``count`` calls of ``api`` with this HTTP error.

        The body is the API's own error envelope with the usual type/code/message for
        ``status`` (``error_type`` overrides the type); a 429 always carries a
        ``retry-after`` header (1 unless given), other statuses only when given.
        """
        self._check_api(api)
        if status == 429 and retry_after is None:
            retry_after = 1
        self._add_faults(api, [_Fault("fail", error=ApiError(
            api, status, message, error_type=error_type, retry_after=retry_after))] * count)

    def malformed_next(self, api: Api) -> None:
        """The next call of ``api`` streams one valid delta, then ``data: {not json`` and closes
        (a non-streaming call gets a 200 whose body is not JSON)."""
        self._add_faults(api, [_Fault("malformed")])

    def stall_next(self, api: Api, after_pieces: int = 1) -> None:
        """The next call of ``api`` streams ``after_pieces`` pieces, then hangs until
        ``release()`` (it then finishes normally) or ``stop()`` (its connection is cut).
        A non-streaming call hangs before answering."""
        self._add_faults(api, [_Fault("stall", after_pieces)])

    def cut_next(self, api: Api, after_pieces: int = 1) -> None:
        """The next call of ``api`` streams ``after_pieces`` pieces, then the connection drops
        mid-body (a network error, not a parse error). A non-streaming call gets no answer."""
        self._add_faults(api, [_Fault("cut", after_pieces)])

    def error_mid_stream_next(self, api: Api, after_pieces: int = 1,
                              error_type: str | None = None, message: str | None = None) -> None:
        """The next call of ``api`` streams ``after_pieces`` pieces, then an in-stream error:
        Anthropic ``event: error`` (default ``overloaded_error``), OpenAI ``data: {"error":..}``
        (default ``server_error``). A non-streaming call gets the matching HTTP error
        (529 / 500)."""
        status = 529 if api == "anthropic" else 500
        error = ApiError(api, status, message, error_type=error_type)
        self._add_faults(api, [_Fault("stream-error", after_pieces, error)])

    def delay_pieces(self, seconds: float) -> None:
        """Wait this long between streamed pieces (0: none)."""
        with self._lock:
            self._piece_delay = max(0.0, seconds)

    def record_timings(self, on: bool = True) -> None:
        """Keep (or, with False, stop keeping) per-call timestamps in :attr:`timings`.

        Each call that gets an answer appends ``{"api", "id", "last", "received",
        "first_piece", "end"}``: :func:`time.perf_counter` readings of when its request
        head had been read, when the first content piece had been written (streams
        only; None otherwise) and when the answer was complete; ``last`` is the start of
        the last message's text, to tell calls apart. On Linux ``perf_counter`` is the
        system-wide monotonic clock, so the readings compare with another process's.
        """
        with self._lock:
            self.timings = [] if on else None

    def take_timings(self) -> list[dict[str, Any]]:
        """The :attr:`timings` recorded since the last take (see :meth:`record_timings`),
        handed over and cleared at once."""
        with self._lock:
            taken, self.timings = self.timings or [], [] if self.timings is not None else None
        return taken

    def release(self) -> None:
        """Let every currently stalled call carry on."""
        with self._changed:
            self._release_generation += 1
            self._changed.notify_all()

    # -- inspecting

    def bodies(self, api: Api | None = None) -> list[Any]:
        """Request bodies (parsed JSON, None if unparseable) in arrival order."""
        with self._lock:
            return [body for name, _, body in self.requests if api in (None, name)]

    def _summary(self) -> str:
        return (f"requests={[api for api, _, _ in self.requests]} stalled={self.stalled} "
                f"disconnects={self.disconnects}")

    # -- internals

    @staticmethod
    def _check_api(api: str) -> None:
        if api not in APIS:
            raise ValueError(f"api must be one of {APIS}, not {api!r}")

    def _add_faults(self, api: Api, faults: list[_Fault]) -> None:
        self._check_api(api)
        with self._lock:
            self._faults[api].extend(faults)

    def _record(self, api: Api, headers: dict[str, str], body: Any) -> None:
        with self._changed:
            self.requests.append((api, headers, body))
            self._changed.notify_all()

    def _bump(self, name: str, by: int) -> None:
        with self._changed:
            setattr(self, name, getattr(self, name) + by)
            self._changed.notify_all()

    def _validate(self, api: Api, headers: dict[str, str], body: Any) -> None:
        """Raise the ApiError the real service would answer this request with, if any."""
        if api == "openai":
            if self.api_key is not None:
                auth = headers.get("authorization", "")
                if not auth.startswith("Bearer ") or not auth[7:].strip():
                    raise ApiError(api, 401, "You didn't provide an API key. You need to "
                                   "provide your API key in an Authorization header using "
                                   "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                                   code=None)
                key = auth[7:].strip()
                if key != self.api_key:
                    shown = f"{key[:3]}***{key[-4:]}" if len(key) > 10 else "***"
                    raise ApiError(api, 401, f"Incorrect API key provided: {shown}. You can "
                                   "find your API key at "
                                   "https://platform.openai.com/account/api-keys.")
            if not isinstance(body, dict):
                raise ApiError(api, 400, "We could not parse the JSON body of your request.")
            if not body.get("model"):
                raise ApiError(api, 400, "you must provide a model parameter")
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                raise ApiError(api, 400, "'messages' must be a non-empty array", code=None)
            for i, message in enumerate(messages):
                if not isinstance(message, dict) or message.get("role") not in _OPENAI_ROLES:
                    raise ApiError(api, 400, f"Invalid value for 'messages[{i}].role'.")
                if message["role"] == "tool":
                    asked = {call.get("id") for m in messages[:i] if m.get("role") == "assistant"
                             for call in (m.get("tool_calls") or [])}
                    if message.get("tool_call_id") not in asked:
                        raise ApiError(api, 400, "Invalid parameter: messages with role 'tool' "
                                       "must be a response to a preceeding message with "
                                       "'tool_calls'.")
        else:
            if self.api_key is not None:
                if headers.get("x-api-key") != self.api_key:
                    raise ApiError(api, 401)
                if not headers.get("anthropic-version"):
                    raise ApiError(api, 400, "anthropic-version: header is required")
            if not isinstance(body, dict):
                raise ApiError(api, 400, "There was an issue with your request body: "
                               "invalid JSON")
            for field in ("model", "max_tokens", "messages"):
                if field not in body:
                    raise ApiError(api, 400, f"{field}: Field required")
            messages = body["messages"]
            if not isinstance(messages, list) or not messages:
                raise ApiError(api, 400, "messages: at least one message is required")
            for i, message in enumerate(messages):
                role = message.get("role") if isinstance(message, dict) else None
                if role not in ("user", "assistant"):
                    raise ApiError(api, 400, f'messages: Unexpected role "{role}". The Messages '
                                   "API accepts a top-level `system` parameter, not \"system\" "
                                   "as an input message role.")
                content = message.get("content")
                if (not text_of(content) and not _has_blocks(content, "tool_use")
                        and not _has_blocks(content, "tool_result")
                        and i != len(messages) - 1):
                    raise ApiError(api, 400, f"messages.{i}: all messages must have non-empty "
                                   "content except for the optional final assistant message")
                results = _has_blocks(content, "tool_result")
                if results:
                    before = messages[i - 1].get("content") if i else None
                    asked = {block.get("id") for block in _has_blocks(before, "tool_use")}
                    if any(block.get("tool_use_id") not in asked for block in results):
                        raise ApiError(api, 400, f"messages.{i}.content: unexpected "
                                       "`tool_use_id` found in `tool_result` blocks. Each "
                                       "`tool_result` block must have a corresponding "
                                       "`tool_use` block in the previous message.")
        model = str(body["model"])
        if self.models is not None and model not in self.models:
            raise ApiError(api, 404, model=model)

    def plan(self, api: Api, body: dict[str, Any]
              ) -> tuple[_Fault | None, str, list[str], list[ScriptedCall]]:
        """The call's scripted fault (if any), its reply text and pieces, its tool calls.

        A subclass may override it to answer by the request's content (the soak run
        does, since its concurrent turns cannot share one scripted queue)."""
        calls: list[ScriptedCall] = []
        with self._lock:
            fault = self._faults[api].popleft() if self._faults[api] else None
            consume = fault is None or fault.kind == "stall"
            if self._replies:
                text, pieces, calls = self._replies.popleft() if consume else self._replies[0]
            else:
                last = body["messages"][-1]
                users = [m for m in body["messages"] if m.get("role") == "user"]
                if last.get("role") == "tool":
                    text = "echo: " + text_of(last.get("content"))
                else:
                    text = "echo: " + (text_of(users[-1].get("content")) if users else "")
                pieces = None
        return fault, text, split_pieces(text, pieces) if text else [], calls

    def _prompt_tokens(self, body: dict[str, Any]) -> int:
        texts = [text_of(body.get("system"))]
        texts += [text_of(m.get("content")) for m in body["messages"]]
        return count_tokens(" ".join(texts))

    def _wait_stalled(self, handler: _Handler) -> None:
        """Hang until released (return) or stopped / the client hangs up (_Abort)."""
        with self._changed:
            generation = self._release_generation
            self.stalled += 1
            self._changed.notify_all()
            try:
                while self._release_generation == generation:
                    if self._stopping.is_set():
                        raise _Abort
                    if handler.client_gone():
                        self.disconnects += 1
                        raise _Abort
                    self._changed.wait(0.05)
            finally:
                self.stalled -= 1
                self._changed.notify_all()

    def _serve(self, handler: _Handler, api: Api, body: Any) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        self._record(api, headers, body)
        rid = f"{next(self._ids):012d}"
        request_id = {"x-request-id": f"req_fake{rid}"} if api == "openai" else {
            "request-id": f"req_fake{rid}"}
        try:
            self._validate(api, headers, body)
        except ApiError as error:
            handler.send_json(error.status, error.body(), {**error.headers(), **request_id})
            return
        fault, text, pieces, calls = self.plan(api, body)
        streaming = body.get("stream") is True
        if fault is not None and (fault.kind == "fail" or (
                fault.kind == "stream-error" and not streaming)):
            assert fault.error is not None
            handler.send_json(fault.error.status, fault.error.body(),
                              {**fault.error.headers(), **request_id})
            return
        build = self._openai_events if api == "openai" else self._anthropic_events
        head, per_piece, tail, result = build(body, rid, text, pieces, calls)
        timing: dict[str, Any] | None = None
        if self.timings is not None:
            last = text_of(body["messages"][-1].get("content"))[:80]
            timing = {"api": api, "id": rid, "last": last, "received": handler.received_at,
                      "first_piece": None, "end": None}
        if not streaming:
            if fault is not None and fault.kind == "cut":
                raise _Abort
            if fault is not None and fault.kind == "stall":
                self._wait_stalled(handler)
            if fault is not None and fault.kind == "malformed":
                handler.send_bytes(200, b"{not json", "application/json", request_id)
                return
            handler.send_json(200, result, request_id)
            self._timed(timing)
            return
        if fault is not None and fault.kind == "malformed":  # it ends with closing
            request_id["Connection"] = "close"
        try:
            handler.start_stream(request_id)
            for event in head:
                handler.write_chunk(event)
            for index, event in enumerate(per_piece):
                if fault is not None and index == fault.after_pieces:
                    if not self._stream_fault(handler, api, fault):
                        return
                    fault = None
                with self._lock:
                    delay = self._piece_delay
                if index and delay and self._stopping.wait(delay):
                    raise _Abort
                handler.write_chunk(event)
                if timing is not None and index == 0:
                    timing["first_piece"] = time.perf_counter()
            if fault is not None and not self._stream_fault(handler, api, fault):
                return
            for event in tail:
                handler.write_chunk(event)
            handler.end_stream()
            self._timed(timing)
        except OSError:
            self._bump("disconnects", 1)
            raise _Abort from None

    def _timed(self, timing: dict[str, Any] | None) -> None:
        """Keep a finished call's timestamps (see :meth:`record_timings`)."""
        if timing is not None:
            timing["end"] = time.perf_counter()
            with self._lock:
                if self.timings is not None:
                    self.timings.append(timing)

    def _stream_fault(self, handler: _Handler, api: Api, fault: _Fault) -> bool:
        """Misbehave mid-stream; True (carry on streaming) only after a released stall."""
        if fault.kind == "stall":
            self._wait_stalled(handler)
            return True
        if fault.kind == "cut":
            raise _Abort
        if fault.kind == "malformed":
            event = b"event: content_block_delta\n" if api == "anthropic" else b""
            handler.write_chunk(event + _GARBAGE)
        else:  # stream-error
            assert fault.error is not None
            if api == "anthropic":
                handler.write_chunk(_sse(fault.error.body(), "error"))
            else:
                handler.write_chunk(_sse({"error": fault.error.body()["error"]}))
        handler.end_stream()
        handler.close_connection = fault.kind == "malformed"
        return False

    def _openai_events(self, body: dict[str, Any], rid: str, text: str, pieces: list[str],
                       calls: list[ScriptedCall]
                       ) -> tuple[list[bytes], list[bytes], list[bytes], dict[str, Any]]:
        model, created = str(body["model"]), int(time.time())
        prompt, completion = self._prompt_tokens(body), count_tokens(text)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}
        base = {"id": f"chatcmpl-fake{rid}", "object": "chat.completion.chunk",
                "created": created, "model": model, "system_fingerprint": "fp_fake"}
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            event: dict[str, Any] = {**base, "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:
                event["usage"] = None
            return _sse(event)

        head = [chunk({"role": "assistant", "content": ""})]
        per_piece = [chunk({"content": piece}) for piece in pieces]
        finish = "tool_calls" if calls else "stop"
        tool_calls = []
        for index, call in enumerate(calls):
            call_id = call.id or f"call_fake{rid}_{index}"
            arguments = json.dumps(call.arguments)
            tool_calls.append({"id": call_id, "type": "function",
                               "function": {"name": call.name, "arguments": arguments}})
            per_piece.append(chunk({"tool_calls": [{"index": index, "id": call_id,
                                                    "type": "function", "function": {
                                                        "name": call.name, "arguments": ""}}]}))
            per_piece += [chunk({"tool_calls": [{"index": index,
                                                 "function": {"arguments": fragment}}]})
                          for fragment in split_pieces(arguments, call.pieces)]
        tail = [chunk({}, finish)]
        if include_usage:
            tail.append(_sse({**base, "choices": [], "usage": usage}))
        tail.append(_sse("[DONE]"))
        result = {
            "id": base["id"], "object": "chat.completion", "created": created, "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {
                "role": "assistant", "content": text or None, "refusal": None,
                **({"tool_calls": tool_calls} if tool_calls else {})},
                         "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        }
        return head, per_piece, tail, result

    def _anthropic_events(self, body: dict[str, Any], rid: str, text: str, pieces: list[str],
                          calls: list[ScriptedCall]
                          ) -> tuple[list[bytes], list[bytes], list[bytes], dict[str, Any]]:
        model, mid = str(body["model"]), f"msg_fake{rid}"
        prompt, completion = self._prompt_tokens(body), count_tokens(text)
        start = {"id": mid, "type": "message", "role": "assistant", "model": model,
                 "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {"input_tokens": prompt, "output_tokens": 1}}
        head = [
            _sse({"type": "message_start", "message": start}, "message_start"),
            _sse({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}}, "content_block_start"),
            _sse({"type": "ping"}, "ping"),
        ]
        per_piece = [_sse({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": piece}},
                          "content_block_delta") for piece in pieces]
        tail = [_sse({"type": "content_block_stop", "index": 0}, "content_block_stop")]
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for offset, call in enumerate(calls, start=1):
            block = {"type": "tool_use", "id": call.id or f"toolu_fake{rid}_{offset}",
                     "name": call.name, "input": {}}
            content.append({**block, "input": call.arguments})
            tail.append(_sse({"type": "content_block_start", "index": offset,
                              "content_block": block}, "content_block_start"))
            tail += [_sse({"type": "content_block_delta", "index": offset,
                           "delta": {"type": "input_json_delta", "partial_json": fragment}},
                          "content_block_delta")
                     for fragment in split_pieces(json.dumps(call.arguments), call.pieces)]
            tail.append(_sse({"type": "content_block_stop", "index": offset},
                             "content_block_stop"))
        stop = "tool_use" if calls else "end_turn"
        tail += [
            _sse({"type": "message_delta",
                  "delta": {"stop_reason": stop, "stop_sequence": None},
                  "usage": {"output_tokens": completion}}, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ]
        result = {**start, "content": content,
                  "stop_reason": stop,
                  "usage": {"input_tokens": prompt, "output_tokens": completion}}
        return head, per_piece, tail, result


# --------------------------------------------------------------------------- HTTP plumbing


class _Handler(TrackedHandler):
    """Reads one HTTP request, routes it to FakeModels._serve, writes JSON or SSE."""

    received_at = 0.0  # perf_counter reading once the request head was read

    def do_POST(self) -> None:
        self.received_at = time.perf_counter()
        api = _ROUTES.get(urlsplit(self.path).path.rstrip("/"))
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        if api is None:
            error = ApiError("openai", 404, f"Invalid URL ({self.command} {self.path})",
                             code=None)
            self.send_json(404, error.body())
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        try:
            self.server.fake._serve(self, api, body)
        except _Abort:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._read_body()
        error = ApiError("openai", 404, f"Invalid URL ({self.command} {self.path})", code=None)
        self.send_json(404, error.body())

    # -- writing (called by FakeModels._serve)

    def send_bytes(self, status: int, body: bytes, content_type: str,
                   headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (e.g. its read timeout fired)
            self.close_connection = True
            self.server.fake._bump("disconnects", 1)

    def send_json(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def start_stream(self, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def client_gone(self) -> bool:
        """Has the client closed its end (checked without consuming anything)?"""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except (OSError, ValueError):
            return True


FakeModels.handler_class = _Handler
FakeModels.thread_name = "fake-models"
