"""What every model provider does: stream a reply to a conversation.

A provider turns ``[{role, content}]`` (roles ``system``, ``user``, ``assistant``, and
``tool`` for a tool's result) into a stream of :class:`Delta` text pieces and
:class:`ToolCall` requests (each whole: a provider assembles streamed argument
fragments before yielding one) and ends with a :class:`Completion` (the model's name
as it answered, token usage, why it stopped). Tools the model may call are offered
as :class:`ToolSpec` (a name, a description and JSON Schema parameters). Failures are
:class:`ProviderError` with a ``kind`` the runtime and the user can act on, and a
``retryable`` flag that is true only when nothing has been streamed yet (a retry
after partial output would repeat it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from openclaw.errors import OpenClawError

__all__ = ["Completion", "Delta", "Message", "Provider", "ProviderError", "ProviderErrorKind",
           "ToolCall", "ToolSpec"]

ProviderErrorKind = Literal[
    "auth", "rate-limit", "server", "timeout", "network", "bad-request", "malformed",
]


class ProviderError(OpenClawError):
    """A model call failed.

    Attributes:
        kind: auth (401/403), rate-limit (429), server (5xx), timeout, network,
            bad-request (4xx such as an unknown model), malformed (a stream that
            does not parse).
        status: the HTTP status, when there was one.
        retry_after_s: the provider asked to wait this long.
        retryable: trying again may succeed and cannot duplicate output.
    """

    def __init__(self, kind: ProviderErrorKind, message: str, *, status: int | None = None,
                 retry_after_s: float | None = None, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable,
                         retry_after_ms=int(retry_after_s * 1000) if retry_after_s else None)
        self.kind = kind
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, its JSON Schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asks to run a tool.

    ``arguments`` is the parsed JSON object; when the model's arguments are not a JSON
    object, it is empty and ``error`` says why (the tool is then not run and the model
    gets that error as the result).
    """

    id: str
    name: str
    arguments: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class Message:
    """One turn of the conversation sent to the model.

    An assistant turn may carry ``tool_calls``; a ``tool`` turn is the result of the
    call ``tool_call_id`` (of tool ``tool_name``), ``is_error`` when the tool failed.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class Delta:
    """A piece of streamed assistant text."""

    text: str


@dataclass(frozen=True)
class Completion:
    """How the stream ended."""

    model: str
    usage: dict[str, int] = field(default_factory=dict)  # inputTokens, outputTokens, ...
    stop_reason: str | None = None


class Provider(Protocol):
    """One configured provider (an id like ``openai`` and its endpoint)."""

    id: str
    api: str  # "offline" | "openai-completions" | "anthropic-messages"

    def stream(self, model: str, messages: list[Message], *, timeout_s: float,
               max_tokens: int | None = None, tools: Sequence[ToolSpec] = (),
               ) -> AsyncIterator[Delta | ToolCall | Completion]:
        """Yield deltas and tool calls, then exactly one :class:`Completion` (stop reason
        ``tool_use`` when it asked for tools); raise ProviderError."""

    def describe(self) -> dict[str, Any]:
        """Facts for ``status`` (base URL, key source; never the key)."""

    async def close(self) -> None:
        """Release network resources."""
