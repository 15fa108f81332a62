"""What every model provider does: stream a reply to a conversation.

A provider turns ``[{role, content}]`` (roles ``system``, ``user``, ``assistant``)
into a stream of :class:`Delta` text pieces and ends with a :class:`Completion`
(the model's name as it answered, token usage, why it stopped). Failures are
:class:`ProviderError` with a ``kind`` the runtime and the user can act on, and a
``retryable`` flag that is true only when nothing has been streamed yet (a retry
after partial output would repeat it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from openclaw.errors import OpenClawError

__all__ = ["Completion", "Delta", "Message", "Provider", "ProviderError", "ProviderErrorKind"]

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
class Message:
    """One turn of the conversation sent to the model."""

    role: Literal["system", "user", "assistant"]
    content: str


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
               max_tokens: int | None = None) -> AsyncIterator[Delta | Completion]:
        """Yield deltas, then exactly one :class:`Completion`; raise ProviderError."""

    def describe(self) -> dict[str, Any]:
        """Facts for ``status`` (base URL, key source; never the key)."""

    async def close(self) -> None:
        """Release network resources."""
