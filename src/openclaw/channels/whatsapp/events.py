"""What the WhatsApp channel knows of its client: small event dataclasses and a protocol.

The channel (:mod:`.channel`) never touches neonize. It drives a
:class:`WhatsAppClient` and receives :data:`WhatsAppEvent` values; the real client
is :class:`openclaw.channels.whatsapp.adapter.NeonizeClient`, and tests drive the
channel with a fake that emits the same sequences (QR codes, pair success,
connected, messages, receipts, disconnects, logged out).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "ClientFactory",
    "ClientStopped",
    "Connected",
    "Disconnected",
    "EventHandler",
    "KeepAliveRestored",
    "KeepAliveTimeout",
    "LoggedOut",
    "MediaRef",
    "MessageReceived",
    "PairSuccess",
    "QrCode",
    "ReceiptReceived",
    "SendFailed",
    "WhatsAppClient",
    "WhatsAppEvent",
]


@dataclass(frozen=True)
class QrCode:
    """A QR code to show for linking (WhatsApp rotates it every 20-60 s)."""

    code: str


@dataclass(frozen=True)
class PairSuccess:
    """The phone accepted the link; ``jid`` is this device's own JID."""

    jid: str


@dataclass(frozen=True)
class Connected:
    """The client is connected and logged in as ``jid`` (when the client knows it)."""

    jid: str | None = None


@dataclass(frozen=True)
class Disconnected:
    """The connection dropped (the client may reconnect by itself)."""

    reason: str = "connection closed"


@dataclass(frozen=True)
class LoggedOut:
    """WhatsApp unlinked this device (from the phone, or the session was replaced)."""

    reason: str = "logged out"


@dataclass(frozen=True)
class KeepAliveTimeout:
    """A keepalive ping went unanswered (``count`` in a row)."""

    count: int


@dataclass(frozen=True)
class KeepAliveRestored:
    """Keepalive pings are answered again."""


@dataclass(frozen=True)
class ClientStopped:
    """The client's connection task ended; ``error`` says why when it failed."""

    error: str | None = None


@dataclass(frozen=True)
class MediaRef:
    """Media attached to a received message, fetched only when wanted."""

    kind: str  # image | video | audio | document | sticker
    mimetype: str
    size: int  # as announced by the sender; 0 when unknown
    filename: str | None
    fetch: Callable[[], Awaitable[bytes]] = field(repr=False, compare=False)


@dataclass(frozen=True)
class MessageReceived:
    """A message in a chat this account is in.

    ``chat`` and ``sender`` are JIDs (``<digits>@s.whatsapp.net``, ``<id>@g.us``,
    ``<id>@lid``); ``sender_phone`` is the sender's phone JID when WhatsApp gave
    one besides a ``@lid`` sender.
    """

    message_id: str
    chat: str
    sender: str
    text: str
    ts_ms: int
    is_group: bool = False
    from_me: bool = False
    push_name: str | None = None
    sender_phone: str | None = None
    mentions: tuple[str, ...] = ()
    media: MediaRef | None = None


@dataclass(frozen=True)
class ReceiptReceived:
    """Delivery / read receipts for messages this account sent."""

    chat: str
    message_ids: tuple[str, ...]
    kind: str  # delivered | read | played | other


class SendFailed(Exception):
    """A send was refused or failed; ``maybe_delivered`` when it may have gone out."""

    def __init__(self, message: str, *, transient: bool = True,
                 maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.maybe_delivered = maybe_delivered


WhatsAppEvent = (QrCode | PairSuccess | Connected | Disconnected | LoggedOut | KeepAliveTimeout
                 | KeepAliveRestored | ClientStopped | MessageReceived | ReceiptReceived)
EventHandler = Callable[[WhatsAppEvent], None]


class WhatsAppClient(Protocol):
    """One linked-device connection with its credentials store (see the module doc)."""

    async def start(self) -> None:
        """Connect in the background; events go to the handler given at creation."""

    async def stop(self) -> None:
        """Disconnect and release the connection (the credentials stay)."""

    async def pair_phone(self, phone: str) -> str:
        """Ask for a pairing code for ``phone`` (digits with country code)."""

    async def logout(self) -> None:
        """Unlink this device on WhatsApp's side."""

    async def send_text(self, jid: str, text: str) -> str:
        """Send text; the message id. Raises :class:`SendFailed`."""

    async def send_media(self, jid: str, kind: str, data: bytes, *, mimetype: str,
                         filename: str, caption: str | None) -> str:
        """Send ``image`` / ``video`` / ``audio`` / ``document``; the message id."""


#: Builds a client over the credentials store at ``path`` that reports to ``handler``.
ClientFactory = Callable[[Path, EventHandler], WhatsAppClient]
