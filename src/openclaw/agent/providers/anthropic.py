"""Anthropic Messages API.

One streamed ``POST {baseUrl}/v1/messages`` per call (headers ``x-api-key`` and
``anthropic-version: 2023-06-01``). The API differs from Chat Completions in ways
handled here: system prompts go in a top-level ``system`` field, turns must alternate
between ``user`` and ``assistant`` (consecutive turns of one role are merged),
``max_tokens`` is required, and the stream is a sequence of named events:
``message_start`` (model, input tokens), ``content_block_delta`` (``text_delta``
text), ``message_delta`` (output tokens, stop reason), ``message_stop``; ``ping``
keeps the connection alive and ``error`` (e.g. ``overloaded_error``) aborts it.

Tools are offered as ``tools: [{name, description, input_schema}]``. A tool call is a
``tool_use`` content block (``content_block_start`` with its id and name, then
``input_json_delta`` pieces of its JSON input, then ``content_block_stop``), assembled
here; a result goes back as a ``tool_result`` block in the next user turn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

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

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicProvider"]

ANTHROPIC_VERSION: Final = "2023-06-01"
#: ``max_tokens`` is mandatory in this API; used when the caller gives none.
DEFAULT_MAX_TOKENS: Final = 1024
#: ``error.type`` of an error event or body → the ProviderError kind.
_ERROR_KINDS: Final[dict[str, ProviderErrorKind]] = {
    "overloaded_error": "server",
    "api_error": "server",
    "rate_limit_error": "rate-limit",
    "authentication_error": "auth",
    "permission_error": "auth",
    "timeout_error": "timeout",
}


class AnthropicProvider(HTTPProvider):
    """An Anthropic Messages endpoint (api ``anthropic-messages``).

    ``base_url`` is the API root without the version (``https://api.anthropic.com``;
    a trailing ``/v1`` is accepted). The key is sent as ``x-api-key``; without one none
    is sent (a local proxy may not want one). Other arguments: :class:`HTTPProvider`.
    """

    api = "anthropic-messages"

    def __init__(self, id: str, base_url: str, api_key: str | None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 key_source: str | None = None) -> None:
        super().__init__(id, base_url, api_key, transport=transport, key_source=key_source)
        root = self.base_url.removesuffix("/v1")
        self._url = httpx.URL(root + "/v1/messages")
        self._headers = {"content-type": "application/json", "accept": "text/event-stream",
                         "anthropic-version": ANTHROPIC_VERSION,
                         "user-agent": f"openclaw-gateway/{__version__}"}
        if self._api_key:
            self._headers["x-api-key"] = self._api_key


    def request_body(self, model: str, messages: list[Message],
                     max_tokens: int | None = None,
                     tools: Sequence[ToolSpec] = ()) -> dict[str, Any]:
        """The JSON body of one streamed call (public so tests can check it).

        System messages are joined (blank line between) into ``system``; empty turns
        are dropped and consecutive turns of one role merged, since the API requires
        alternation (tool results are user turns); a final assistant turn (a prefill)
        loses trailing whitespace, which the API refuses.
        """
        system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
        turns: list[dict[str, Any]] = []
        for message in messages:
            role, content = _wire_turn(message)
            if content is None:
                continue
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] = _merge(turns[-1]["content"], content)
            else:
                turns.append({"role": role, "content": content})
        if turns and turns[-1]["role"] == "assistant" and isinstance(turns[-1]["content"], str):
            turns[-1]["content"] = turns[-1]["content"].rstrip()
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": turns,
            "stream": True,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [{"name": tool.name, "description": tool.description,
                              "input_schema": tool.parameters} for tool in tools]
        return body

    async def stream(self, model: str, messages: list[Message], *, timeout_s: float,
                     max_tokens: int | None = None, tools: Sequence[ToolSpec] = (),
                     ) -> AsyncIterator[Delta | ToolCall | Completion]:
        """Stream the reply: Deltas and ToolCalls (each yielded at its block's end),
        then one Completion; ProviderError on failure.

        ``timeout_s`` bounds the whole call. Errors are retryable only while no Delta
        has been yielded.
        """
        body = self.request_body(model, messages, max_tokens, tools)
        call = self._call(self._url, self._headers, body, timeout_s)
        if not body["messages"]:
            raise call.error("bad-request", "nothing to send: the conversation has no "
                             "user or assistant message", retryable=False)
        answered_model = model
        usage: dict[str, int] = {}
        stop_reason: str | None = None
        done = seen_event = False
        blocks: dict[int, dict[str, Any]] = {}  # tool_use blocks being streamed, by index
        await call.open()
        try:
            while not done and (events := await call.read()) is not None:
                for event in events:
                    seen_event = True
                    data = decode_object(call, event.data)
                    kind = event.event if event.event != "message" else data.get("type")
                    if kind == "content_block_delta":
                        delta = data.get("delta")
                        if isinstance(delta, dict) and delta.get("type") == "text_delta":
                            text = delta.get("text")
                            if isinstance(text, str) and text:
                                yield Delta(text)
                                call.streamed = True
                        elif isinstance(delta, dict) and delta.get("type") == "input_json_delta":
                            block = blocks.get(_index(data))
                            if block is not None and isinstance(delta.get("partial_json"), str):
                                block["json"] += delta["partial_json"]
                    elif kind == "content_block_start":
                        start = data.get("content_block")
                        if isinstance(start, dict) and start.get("type") == "tool_use":
                            blocks[_index(data)] = {"id": str(start.get("id") or ""),
                                                    "name": str(start.get("name") or ""),
                                                    "json": ""}
                    elif kind == "content_block_stop":
                        block = blocks.pop(_index(data), None)
                        if block is not None:
                            yield _tool_call(block)
                    elif kind == "message_start":
                        message = data.get("message")
                        if isinstance(message, dict):
                            if isinstance(message.get("model"), str) and message["model"]:
                                answered_model = message["model"]
                            usage.update(_usage(message.get("usage")))
                    elif kind == "message_delta":
                        for name, value in _usage(data.get("usage")).items():
                            if value or name not in usage:  # a 0 must not hide a count
                                usage[name] = value
                        delta = data.get("delta")
                        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
                        if isinstance(reason, str):
                            stop_reason = reason
                    elif kind == "message_stop":
                        done = True
                        break
                    elif kind == "error":
                        raise _stream_error(call, data)
                    # ping and future events are ignored
            if not done:
                raise ended_early(call, seen_event, "message_stop")
            await call.drain()
        finally:
            await call.aclose()
        yield Completion(model=answered_model, usage=usage, stop_reason=stop_reason)


def _wire_turn(message: Message) -> tuple[str, str | list[dict[str, Any]] | None]:
    """``(role, content)`` of one non-system Message; content None drops it."""
    if message.role == "system":
        return "system", None
    if message.role == "tool":
        return "user", [{"type": "tool_result", "tool_use_id": message.tool_call_id,
                         "content": message.content or "(no output)",
                         **({"is_error": True} if message.is_error else {})}]
    if message.tool_calls:
        blocks: list[dict[str, Any]] = []
        if message.content.strip():
            blocks.append({"type": "text", "text": message.content.rstrip()})
        blocks += [{"type": "tool_use", "id": call.id, "name": call.name,
                    "input": call.arguments} for call in message.tool_calls]
        return "assistant", blocks
    if not message.content.strip():
        return message.role, None
    return message.role, message.content


def _merge(first: str | list[dict[str, Any]], second: str | list[dict[str, Any]]
           ) -> str | list[dict[str, Any]]:
    """Two turns of one role as one (text joined, or content blocks concatenated)."""
    if isinstance(first, str) and isinstance(second, str):
        return first + "\n\n" + second
    def blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"type": "text", "text": content}] if isinstance(content, str) else content
    return blocks(first) + blocks(second)


def _index(data: dict[str, Any]) -> int:
    index = data.get("index")
    return index if isinstance(index, int) else 0


def _tool_call(block: dict[str, Any]) -> ToolCall:
    """An assembled ``tool_use`` block; input that is not a JSON object makes an error call."""
    raw = block["json"].strip() or "{}"
    try:
        arguments = json.loads(raw)
    except ValueError:
        return ToolCall(block["id"], block["name"], {}, f"input is not JSON: {raw[:200]!r}")
    if not isinstance(arguments, dict):
        return ToolCall(block["id"], block["name"], {}, "input is not a JSON object")
    return ToolCall(block["id"], block["name"], arguments)


def _stream_error(call: SSECall, data: dict[str, Any]) -> Exception:
    """The ProviderError for an ``event: error`` in the stream."""
    error = data.get("error")
    error = error if isinstance(error, dict) else {}
    error_type = error.get("type") if isinstance(error.get("type"), str) else "error"
    message = error.get("message") or "unknown error"
    kind = _ERROR_KINDS.get(str(error_type), "bad-request")
    return call.error(kind, f"error mid-stream ({error_type}): {message}",
                      retryable=kind in ("server", "rate-limit", "timeout"))


def _usage(usage: Any) -> dict[str, int]:
    """Anthropic usage → ``{inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens}``.

    ``message_delta`` counts are cumulative, so later values replace earlier ones.
    """
    if not isinstance(usage, dict):
        return {}
    result: dict[str, int] = {}
    for key, name in (("input_tokens", "inputTokens"), ("output_tokens", "outputTokens"),
                      ("cache_read_input_tokens", "cacheReadTokens"),
                      ("cache_creation_input_tokens", "cacheWriteTokens")):
        value = usage.get(key)
        if isinstance(value, int) and (value or name in ("inputTokens", "outputTokens")):
            result[name] = value
    return result
