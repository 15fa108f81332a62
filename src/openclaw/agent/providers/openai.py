"""OpenAI Chat Completions (and the many servers that speak it: Ollama, vLLM, ...).

One streamed ``POST {baseUrl}/chat/completions`` per call, with
``stream_options.include_usage`` so the last chunk before ``data: [DONE]`` carries the
token usage. Text arrives as ``choices[0].delta.content``; the answer ends at
``[DONE]``. See :mod:`openclaw.agent.providers.sse` for the HTTP and error handling
shared with the Anthropic provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from openclaw import __version__
from openclaw.agent.providers.base import Completion, Delta, Message, ProviderErrorKind
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
                     max_tokens: int | None = None) -> dict[str, Any]:
        """The JSON body of one streamed call (public so tests can check it)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": message.role, "content": message.content}
                         for message in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens is not None:
            body[self._max_tokens_field] = max_tokens
        return body

    async def stream(self, model: str, messages: list[Message], *, timeout_s: float,
                     max_tokens: int | None = None) -> AsyncIterator[Delta | Completion]:
        """Stream the reply: Deltas, then one Completion; ProviderError on failure.

        ``timeout_s`` bounds the whole call (connect, first token, every gap, the
        end). Errors are retryable only while no Delta has been yielded.
        """
        call = self._call(self._url, self._headers,
                          self.request_body(model, messages, max_tokens), timeout_s)
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
        yield Completion(model=answered_model, usage=usage, stop_reason=stop_reason)


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
