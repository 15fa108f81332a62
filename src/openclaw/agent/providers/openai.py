"""OpenAI Chat Completions (and the many servers that speak it: Ollama, vLLM, ...).

One streamed ``POST {baseUrl}/chat/completions`` per call, with
``stream_options.include_usage`` so the last chunk before ``data: [DONE]`` carries the
token usage. Text arrives as ``choices[0].delta.content``; tool calls arrive as
``choices[0].delta.tool_calls`` fragments keyed by ``index`` (the first carries the id
and name, later ones pieces of the JSON ``arguments``) and are assembled here; the
answer ends at ``[DONE]``. Tools are offered as ``tools: [{type: "function",
function: {name, description, parameters}}]``; a tool's result goes back as a
``{role: "tool", tool_call_id, content}`` message. See
:mod:`openclaw.agent.providers.sse` for the HTTP and error handling shared with the
Anthropic provider.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from openclaw import __version__
from openclaw.agent.providers.base import (
    Completion,
    Delta,
    Message,
    ProviderErrorKind,
    ToolCall,
    ToolSpec,
)
from openclaw.agent.providers.http_provider import HTTPProvider, decode_object, ended_early
from openclaw.agent.providers.sse import SSECall

__all__ = ["OpenAIProvider"]

#: finish_reason → the stop reasons the offline and Anthropic providers use.
_STOP_REASONS: Final = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                        "function_call": "tool_use"}
#: hosts whose models refuse ``max_tokens`` (o-series, gpt-5) and want this instead.
_COMPLETION_TOKENS_HOSTS: Final = frozenset({"api.openai.com"})


class OpenAIProvider(HTTPProvider):
    """A Chat Completions endpoint (api ``openai-completions``).

    ``base_url`` includes the API version (``https://api.openai.com/v1``). The key is
    sent as ``Authorization: Bearer``; without one no such header is sent (Ollama and
    most local servers need none). Other arguments: :class:`HTTPProvider`.
    """

    api = "openai-completions"

    def __init__(self, id: str, base_url: str, api_key: str | None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 key_source: str | None = None) -> None:
        super().__init__(id, base_url, api_key, transport=transport, key_source=key_source)
        self._url = httpx.URL(self.base_url + "/chat/completions")
        self._headers = {"content-type": "application/json", "accept": "text/event-stream",
                         "user-agent": f"openclaw-gateway/{__version__}"}
        if self._api_key:
            self._headers["authorization"] = f"Bearer {self._api_key}"
        host = urlsplit(self.base_url).hostname or ""
        self._max_tokens_field = ("max_completion_tokens" if host in _COMPLETION_TOKENS_HOSTS
                                  else "max_tokens")


    def request_body(self, model: str, messages: list[Message],
                     max_tokens: int | None = None,
                     tools: Sequence[ToolSpec] = ()) -> dict[str, Any]:
        """The JSON body of one streamed call (public so tests can check it)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [_wire_message(message) for message in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens is not None:
            body[self._max_tokens_field] = max_tokens
        if tools:
            body["tools"] = [{"type": "function", "function": {
                "name": tool.name, "description": tool.description,
                "parameters": tool.parameters}} for tool in tools]
        return body

    async def stream(self, model: str, messages: list[Message], *, timeout_s: float,
                     max_tokens: int | None = None, tools: Sequence[ToolSpec] = (),
                     ) -> AsyncIterator[Delta | ToolCall | Completion]:
        """Stream the reply: Deltas, then the assembled ToolCalls (if any), then one
        Completion; ProviderError on failure.

        ``timeout_s`` bounds the whole call (connect, first token, every gap, the
        end). Errors are retryable only while no Delta has been yielded.
        """
        call = self._call(self._url, self._headers,
                          self.request_body(model, messages, max_tokens, tools), timeout_s)
        calls: dict[int, dict[str, Any]] = {}
        answered_model = model
        usage: dict[str, int] = {}
        stop_reason: str | None = None
        done = seen_event = False
        await call.open()
        try:
            while not done and (events := await call.read()) is not None:
                for event in events:
                    seen_event = True
                    if event.data.strip() == "[DONE]":
                        done = True
                        break
                    chunk = _decode(call, event.data)
                    if isinstance(chunk.get("model"), str) and chunk["model"]:
                        answered_model = chunk["model"]
                    usage = _usage(chunk.get("usage")) or usage
                    text, finish = _choice(chunk.get("choices"))
                    _collect_tool_calls(chunk.get("choices"), calls)
                    if finish:
                        stop_reason = _STOP_REASONS.get(finish, finish)
                    if text:
                        yield Delta(text)
                        call.streamed = True
            if not done:
                raise ended_early(call, seen_event, "data: [DONE]")
            await call.drain()
        finally:
            await call.aclose()
        for index in sorted(calls):
            yield _tool_call(calls[index], index)
        yield Completion(model=answered_model, usage=usage, stop_reason=stop_reason)


def _wire_message(message: Message) -> dict[str, Any]:
    """One Message as a Chat Completions message."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id,
                "content": message.content}
    if message.tool_calls:
        return {"role": "assistant", "content": message.content or None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
            for call in message.tool_calls]}
    return {"role": message.role, "content": message.content}


def _collect_tool_calls(choices: Any, calls: dict[int, dict[str, Any]]) -> None:
    """Add one chunk's ``delta.tool_calls`` fragments to ``calls`` (by index)."""
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return
    delta = choices[0].get("delta")
    fragments = delta.get("tool_calls") if isinstance(delta, dict) else None
    if not isinstance(fragments, list):
        return
    for fragment in fragments:
        if not isinstance(fragment, dict):
            continue
        index = fragment.get("index", 0)
        entry = calls.setdefault(index if isinstance(index, int) else 0,
                                 {"id": "", "name": "", "arguments": ""})
        if isinstance(fragment.get("id"), str) and fragment["id"]:
            entry["id"] = fragment["id"]
        function = fragment.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str) and function["name"]:
                entry["name"] = function["name"]
            if isinstance(function.get("arguments"), str):
                entry["arguments"] += function["arguments"]


def _tool_call(entry: dict[str, Any], index: int) -> ToolCall:
    """An assembled call; arguments that are not a JSON object make an error call."""
    call_id = entry["id"] or f"call_{index}"
    raw = entry["arguments"].strip() or "{}"
    try:
        arguments = json.loads(raw)
    except ValueError:
        return ToolCall(call_id, entry["name"], {}, f"arguments are not JSON: {raw[:200]!r}")
    if not isinstance(arguments, dict):
        return ToolCall(call_id, entry["name"], {}, "arguments are not a JSON object")
    return ToolCall(call_id, entry["name"], arguments)


def _decode(call: SSECall, data: str) -> dict[str, Any]:
    """One ``data:`` payload as a chunk object; an ``{"error": ...}`` payload raises."""
    chunk = decode_object(call, data)
    error = chunk.get("error")
    if error:  # some servers (and OpenAI, rarely) report failures inside the stream
        message = error.get("message") if isinstance(error, dict) else error
        kind_name = (error.get("type") or error.get("code")) if isinstance(error, dict) else None
        kind: ProviderErrorKind = "server"
        if isinstance(kind_name, str) and ("rate" in kind_name or kind_name == "requests"):
            kind = "rate-limit"
        elif isinstance(kind_name, str) and "invalid" in kind_name:
            kind = "bad-request"
        raise call.error(kind, f"error mid-stream: {message or 'unknown error'}",
                         retryable=kind != "bad-request")
    return chunk


def _choice(choices: Any) -> tuple[str, str | None]:
    """``(text, finish_reason)`` of the first choice of a chunk."""
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", None
    choice = choices[0]
    delta = choice.get("delta")
    text = delta.get("content") if isinstance(delta, dict) else None
    finish = choice.get("finish_reason")
    return (text if isinstance(text, str) else ""), (finish if isinstance(finish, str) else None)


def _usage(usage: Any) -> dict[str, int]:
    """OpenAI usage → ``{inputTokens, outputTokens[, cacheReadTokens]}``."""
    if not isinstance(usage, dict):
        return {}
    result: dict[str, int] = {}
    for key, name in (("prompt_tokens", "inputTokens"), ("completion_tokens", "outputTokens")):
        value = usage.get(key)
        if isinstance(value, int):
            result[name] = value
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if isinstance(cached, int) and cached:
        result["cacheReadTokens"] = cached
    return result
