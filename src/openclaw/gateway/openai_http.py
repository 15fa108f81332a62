"""The OpenAI-compatible HTTP endpoint: ``/v1/chat/completions`` and ``/v1/models``.

Off by default (``gateway.http.endpoints.chatCompletions.enabled``). A request is a
normal agent run on a session (the same path as ``openclaw agent``), authenticated
with the gateway's own secret as a bearer token, so any OpenAI client can talk to
the assistant. Errors use OpenAI's shape ``{"error": {message, type, param, code}}``.

OpenAI's ``model`` names an agent here, as in OpenClaw: ``openclaw``,
``openclaw/default``, ``openclaw/<agentId>``, ``openclaw:<agentId>`` or
``agent:<agentId>``. The backend model is the agent's configured one, or the
``x-openclaw-model`` header. The session is ``x-openclaw-session-key`` when given,
else one derived from OpenAI's ``user`` field (so a conversation can continue), else
a fresh one per request. Sampling parameters are accepted and validated but not
forwarded (the providers here use their configured settings); this is documented.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from openclaw.agent.runtime import Run
from openclaw.errors import OpenClawError
from openclaw.gateway.http import (
    HttpRequest,
    HttpResponse,
    Route,
    RouteTable,
    StreamingResponse,
    json_response,
)
from openclaw.protocol.auth import AuthFailure
from openclaw.protocol.frames import AuthParams, encode

if TYPE_CHECKING:
    from openclaw.gateway.app import App

__all__ = ["add_openai_routes"]

AGENT_ID = "main"
_MODEL_IDS = ("openclaw", "openclaw/default", f"openclaw/{AGENT_ID}")
_RESERVED_SESSIONS = ("subagent:", "cron:", "acp:")
_SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no")]


class _Part(msgspec.Struct, frozen=True):
    type: str
    text: str | None = None


class _Message(msgspec.Struct, frozen=True):
    role: str
    content: str | list[_Part] | None = None
    name: str | None = None
    tool_call_id: str | None = None


class _StreamOptions(msgspec.Struct, frozen=True):
    include_usage: bool = False


class ChatRequest(msgspec.Struct, frozen=True):
    """The fields of a Chat Completions request this endpoint reads or validates."""

    model: str
    messages: Annotated[list[_Message], msgspec.Meta(min_length=1)]
    stream: bool = False
    stream_options: _StreamOptions | None = None
    user: str | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    frequency_penalty: Annotated[float, msgspec.Meta(ge=-2, le=2)] | None = None
    presence_penalty: Annotated[float, msgspec.Meta(ge=-2, le=2)] | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], msgspec.Meta(max_length=4)] | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=1)] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None


class ApiError(Exception):
    """An error answered in OpenAI's shape with an HTTP status."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.code, self.param, self.headers = code, param, headers or []

    def body(self) -> dict[str, Any]:
        """``{"error": {...}}``."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}

    def response(self) -> HttpResponse:
        """The HTTP response."""
        return json_response(self.status, self.body(), self.headers)


def _authorize(app: App, request: HttpRequest) -> None:
    """The bearer token must be the gateway's secret (token or password, per auth mode)."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    bearer = credential.strip() if scheme.lower() == "bearer" else None
    auth = AuthParams(token=bearer, password=bearer) if bearer else None
    outcome = app.authenticator.authenticate(auth, request.remote, "operator", None)
    if isinstance(outcome, AuthFailure):
        if outcome.retry_after_ms:
            seconds = str(max(1, outcome.retry_after_ms // 1000))
            raise ApiError(429, outcome.message, "rate_limit_error", "rate_limited",
                           headers=[("Retry-After", seconds)])
        raise ApiError(401, f"{outcome.message}: send the gateway's token as "
                       "`Authorization: Bearer <token>`", "authentication_error",
                       "invalid_api_key")


def _text_of(message: _Message) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "".join(part.text or "" for part in message.content if part.type == "text")


def _session_key(request: HttpRequest, body: ChatRequest) -> tuple[str, bool]:
    """``(session key, explicit)``: the header, else one derived from ``user``, else new."""
    explicit = request.headers.get("x-openclaw-session-key", "").strip()
    if explicit:
        if explicit.startswith(_RESERVED_SESSIONS):
            raise ApiError(400, f"session key {explicit!r} uses a reserved namespace",
                           param="x-openclaw-session-key")
        return explicit, True
    if body.user:
        digest = hashlib.sha256(body.user.encode()).hexdigest()[:24]
        return f"openai:user:{digest}", True
    return f"openai:{uuid.uuid4().hex}", False


def _parse(request: HttpRequest) -> ChatRequest:
    try:
        body = msgspec.json.decode(request.body, type=ChatRequest)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"invalid request: {exc}") from None
    except msgspec.DecodeError:
        raise ApiError(400, "the request body is not JSON") from None
    if body.model not in _MODEL_IDS and body.model not in (f"openclaw:{AGENT_ID}",
                                                           f"agent:{AGENT_ID}"):
        raise ApiError(404, f"the model {body.model!r} does not exist: use "
                       f"{' or '.join(repr(m) for m in _MODEL_IDS)}", code="model_not_found",
                       param="model")
    if body.tools:
        raise ApiError(400, "client-side tools are not supported by this gateway",
                       param="tools")
    if body.messages[-1].role != "user":
        raise ApiError(400, "the last message must be the user's", param="messages")
    return body


def _submit(app: App, request: HttpRequest, body: ChatRequest) -> Run:
    session, _ = _session_key(request, body)
    system = "\n\n".join(_text_of(m) for m in body.messages
                         if m.role in ("system", "developer") and _text_of(m))
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    try:
        return _start(app, request, session, system, turns)
    except OpenClawError as exc:
        if exc.retryable:  # e.g. a full disk: the same request works later
            raise ApiError(503, exc.message, kind="server_error",
                           headers=[("Retry-After", "1")]) from None
        raise


def _start(app: App, request: HttpRequest, session: str, system: str,
           turns: list[_Message]) -> Run:
    if not app.agent.sessions.context(session, 1, 1_000_000):
        # A new session: the earlier turns of the request become its history, so the
        # model sees the conversation the client sent.
        pending: str | None = None
        for message in turns[:-1]:
            if message.role == "user":
                pending = _text_of(message)
            elif pending is not None:
                app.agent.sessions.add_exchange(session, pending, _text_of(message), "openai")
                pending = None
    model = request.headers.get("x-openclaw-model", "").strip() or None
    try:
        _, found = app.agent.submit(f"openai:{uuid.uuid4().hex}", _text_of(turns[-1]),
                                    session_key=session, model=model,
                                    extra_system=system or None)
    except OpenClawError as exc:
        if exc.retryable:
            raise
        raise ApiError(400, exc.message, param="x-openclaw-model" if model else None) from None
    assert isinstance(found, Run)  # a fresh run id is always a new run
    return found


def _usage(final: dict[str, Any]) -> dict[str, int]:
    usage = final.get("result", {}).get("meta", {}).get("usage") or {}
    prompt, completion = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _failure(final: dict[str, Any]) -> ApiError:
    error = final.get("error") or {}
    code = str(error.get("code") or "UNAVAILABLE")
    status = {"AGENT_TIMEOUT": 504, "ABORTED": 499}.get(code, 502)
    return ApiError(status, str(error.get("message") or "the run failed"), "api_error",
                    code.lower())


async def _complete(app: App, run: Run, model: str) -> HttpResponse:
    try:
        final = await _wait(run)
    except BaseException:
        app.agent.abort(run.run_id, "the HTTP client went away")
        raise
    if final.get("status") != "ok":
        return _failure(final).response()
    text = "".join(p.get("text", "") for p in final["result"]["payloads"])
    return json_response(200, {
        "id": f"chatcmpl-{run.run_id}", "object": "chat.completion",
        "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": _usage(final)})


async def _wait(run: Run) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.shield(run.final)
    return result


def _sse(payload: Any) -> bytes:
    return b"data: " + encode(payload) + b"\n\n"


async def _stream_chunks(app: App, run: Run, events: Any, model: str,
                         include_usage: bool) -> AsyncIterator[bytes]:
    chunk_id, created = f"chatcmpl-{run.run_id}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [{"index": 0, "delta": delta,
                                                  "finish_reason": finish}]})

    finished = False
    try:
        yield chunk({"role": "assistant", "content": ""})
        while True:
            event = await events.get()
            data = event.get("data", {})
            if event.get("stream") == "assistant" and data.get("text"):
                yield chunk({"content": data["text"]})
            elif event.get("stream") == "lifecycle" and data.get("phase") in ("end", "error"):
                break
        final = await _wait(run)
        finished = True
        if final.get("status") == "ok":
            yield chunk({}, "stop")
            if include_usage:
                yield _sse({"id": chunk_id, "object": "chat.completion.chunk",
                            "created": created, "model": model, "choices": [],
                            "usage": _usage(final)})
        else:
            yield _sse(_failure(final).body())
        yield b"data: [DONE]\n\n"
    finally:
        app.run_events.unfollow(run.run_id, events)
        if not finished:  # the client went away: the run stops too
            app.agent.abort(run.run_id, "the HTTP client went away")


async def chat_completions(app: App, request: HttpRequest) -> HttpResponse | StreamingResponse:
    """``POST /v1/chat/completions``."""
    try:
        _authorize(app, request)
        body = _parse(request)
        if body.stream:
            run = _submit(app, request, body)
            events = app.run_events.follow(run.run_id)
            include = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(200, list(_SSE_HEADERS),
                                     _stream_chunks(app, run, events, body.model, include))
        run = _submit(app, request, body)
        return await _complete(app, run, body.model)
    except ApiError as exc:
        return exc.response()


def _model_entry(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "openclaw"}


def list_models(app: App, request: HttpRequest) -> HttpResponse:
    """``GET /v1/models``: the agent targets."""
    try:
        _authorize(app, request)
    except ApiError as exc:
        return exc.response()
    created = app.identity.started_at_ms // 1000
    return json_response(200, {"object": "list",
                               "data": [_model_entry(m, created) for m in _MODEL_IDS]})


def get_model(app: App, request: HttpRequest) -> HttpResponse:
    """``GET /v1/models/{id}``."""
    from urllib.parse import unquote

    try:
        _authorize(app, request)
    except ApiError as exc:
        return exc.response()
    model_id = unquote(request.path[len("/v1/models/"):])
    if model_id not in _MODEL_IDS:
        return ApiError(404, f"the model {model_id!r} does not exist",
                        code="model_not_found").response()
    return json_response(200, _model_entry(model_id, app.identity.started_at_ms // 1000))


def add_openai_routes(routes: RouteTable) -> None:
    """Register the endpoint's routes."""
    routes.add(Route("/v1/chat/completions", chat_completions, frozenset({"POST"})))
    routes.add(Route("/v1/models", list_models))
    routes.add(Route("/v1/models/", get_model), prefix=True)
