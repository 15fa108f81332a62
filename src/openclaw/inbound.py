"""A message a channel received, as the inbox stores it and the ``message`` event carries it.

It lives outside ``channels/`` because the store, the channels and the gateway all
use it, and the store must not depend on the channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["InboundMessage"]


@dataclass(frozen=True)
class InboundMessage:
    """A message a channel received (the ``message`` event's payload, plus its origin)."""

    channel: str
    account_id: str
    message_id: str
    chat_id: str
    sender: str
    text: str
    ts: int
    sender_name: str | None = None

    def to_event(self) -> dict[str, Any]:
        """The protocol's ``message`` event payload."""
        return {"channel": self.channel, "accountId": self.account_id, "from": self.sender,
                "chatId": self.chat_id, "text": self.text, "ts": self.ts,
                "messageId": self.message_id}
