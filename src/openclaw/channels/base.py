"""What every chat channel provides, and the errors it reports.

A channel account is one bot/login on one network. The gateway talks to it only
through :class:`Channel`: ``connect`` (verify credentials, e.g. Telegram's
``getMe``), ``poll`` (one round of receiving, e.g. one long poll; inbound messages
are handed to a sink), ``send`` (text or media to one chat), ``normalize_target``
(turn what a user typed into a chat id, or refuse it), ``snapshot`` fields of its own.
Keeping to one round per ``poll`` call is what lets the supervisor impose a
liveness deadline on it: a round that does not finish in time is a stall.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from openclaw.errors import OpenClawError, UsageError
from openclaw.inbound import InboundMessage

if TYPE_CHECKING:
    from openclaw.channels.registry import ChannelSpec

__all__ = [
    "Channel",
    "ChannelError",
    "InboundMessage",
    "InboundSink",
    "LoginChannel",
    "OutboundMessage",
    "SendReceipt",
    "TargetError",
    "split_text",
]


class ChannelError(OpenClawError):
    """A channel call failed.

    Attributes:
        transient: the same call may succeed later (network down, 5xx, 429).
        retry_after_s: the channel asked to wait this long before trying again.
        maybe_delivered: the request may have reached the network before it failed
            (a read timeout after sending); retrying could deliver it twice.
        status: the remote status code, when there is one.
        login_required: the account has no (more) valid login: retrying cannot help
            until someone links it again (``openclaw channels login``).
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after_s: float | None = None,
        maybe_delivered: bool = False,
        status: int | None = None,
        login_required: bool = False,
    ) -> None:
        super().__init__(
            message, retryable=transient and not maybe_delivered,
            retry_after_ms=int(retry_after_s * 1000) if retry_after_s is not None else None,
        )
        self.transient = transient
        self.retry_after_s = retry_after_s
        self.maybe_delivered = maybe_delivered
        self.status = status
        self.login_required = login_required


class TargetError(UsageError):
    """``to`` cannot name a chat on this channel (answered as ``INVALID_REQUEST``)."""


@dataclass(frozen=True)
class OutboundMessage:
    """One message to deliver: text, and optionally media (local paths or URLs)."""

    chat_id: str
    text: str = ""
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendReceipt:
    """What the network said about a delivered message."""

    message_id: str
    chat_id: str
    extra: dict[str, Any] = field(default_factory=dict)


#: Called with each inbound message a poll round received, plus the channel-specific
#: cursor to persist together with it (e.g. Telegram's next update offset). The sink
#: stores both in one transaction, so a message is handled once across restarts.
InboundSink = Callable[[list[InboundMessage], str | None], Awaitable[None]]


class Channel(Protocol):
    """One account of one chat network."""

    name: str
    account_id: str
    #: The channel's registry entry (label, capabilities, setup hint).
    spec: ChannelSpec[Any, Any]

    async def connect(self) -> dict[str, Any]:
        """Verify credentials and reachability; return facts for the snapshot."""

    async def poll(self, cursor: str | None, sink: InboundSink) -> None:
        """Receive one round (may block up to the channel's long-poll time)."""

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Deliver one message; raise :class:`ChannelError` on failure."""

    def normalize_target(self, to: str) -> str:
        """The chat id ``to`` names; raise :class:`TargetError` when it names none."""

    def snapshot(self) -> dict[str, Any]:
        """Channel-specific snapshot fields (never secrets)."""

    @property
    def poll_deadline_s(self) -> float:
        """How long one ``poll`` round may take before it counts as stalled."""

    async def close(self) -> None:
        """Release network resources."""


class LoginChannel(Channel, Protocol):
    """A channel whose accounts are linked by a login flow (a QR code or a pairing code),
    run inside the gateway by ``web.login.start`` / ``web.login.wait``."""

    async def login_start(self, *, force: bool, phone: str | None,
                          timeout_s: float) -> dict[str, Any]:
        """Start (or join) a login: ``{qrDataUrl?, qrText?, pairingCode?, message,
        connected, sessionKey}``."""

    async def login_wait(self, *, session_key: str | None, current_qr: str | None,
                         timeout_s: float) -> dict[str, Any]:
        """Wait until the login completes, fails, or shows a new QR code."""

    async def logout(self) -> bool:
        """Unlink the account and delete its credentials; True when there were any."""


def split_text(text: str, limit: int, units: Callable[[str], int] = lambda char: 1
               ) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` units (``units`` counts one
    character: 1 by default; Telegram counts UTF-16 code units), cut at a line break,
    or else a space, when there is one in the second half of a piece."""
    chunks: list[str] = []
    while sum(units(char) for char in text) > limit:
        end = used = 0
        for char in text:
            used += units(char)
            if used > limit:
                break
            end += 1
        cut = text.rfind("\n", end // 2, end)
        if cut <= 0:
            cut = text.rfind(" ", end // 2, end)
        if cut > 0:  # drop the separator itself
            chunks.append(text[:cut])
            text = text[cut + 1:]
        else:
            chunks.append(text[:end])
            text = text[end:]
    if text:
        chunks.append(text)
    return chunks
