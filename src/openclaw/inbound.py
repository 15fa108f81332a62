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
    #: ``direct`` (one person) or ``group``; access rules differ (openclaw.channels.access).
    chat_type: str = "direct"
    #: In a group: whether the message mentions this account (for ``requireMention``).
    mentioned: bool = False
    #: Other ids of the sender that ``allowFrom`` may list (e.g. a phone number's digits).
    sender_aliases: tuple[str, ...] = ()
    #: Files of received media, stored under the state directory.
    media: tuple[str, ...] = ()

    def to_event(self) -> dict[str, Any]:
        """The protocol's ``message`` event payload."""
        return {"channel": self.channel, "accountId": self.account_id, "from": self.sender,
                "chatId": self.chat_id, "text": self.text, "ts": self.ts,
                "messageId": self.message_id, "chatType": self.chat_type,
                **({"media": list(self.media)} if self.media else {})}
