"""A WhatsApp client stand-in at neonize's boundary, for the channel's tests.

It stands where :mod:`openclaw.channels.whatsapp.adapter`'s client stands: it
receives the same calls and answers with the same events the adapter translates from
neonize (a QR code at start, pair success then a reconnect when "scanned", connected
when already linked, a dial failure when unreachable), and records what is sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from openclaw.channels.whatsapp.events import (
    Connected,
    Disconnected,
    EventHandler,
    PairSuccess,
    QrCode,
    SendFailed,
    WhatsAppEvent,
)

ME = "16502530000@s.whatsapp.net"


class FakeClient:
    """A linked device as neonize presents it: events arrive later, on the loop."""

    def __init__(self, path: Path, handler: EventHandler, *, reachable: bool = True) -> None:
        self.path = path
        self.handler = handler
        self.reachable = reachable
        self.sent: list[tuple[str, ...]] = []
        self.started = self.stopped = 0
        self.fail_next: SendFailed | None = None

    def emit(self, event: WhatsAppEvent) -> None:
        asyncio.get_running_loop().call_soon(self.handler, event)

    async def start(self) -> None:
        self.started += 1
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        if not self.reachable:
            from openclaw.channels.whatsapp.events import ClientStopped

            self.emit(ClientStopped("failed to dial whatsapp web websocket: no such host"))
        elif self.path.read_bytes() == b"linked":
            self.emit(Connected(ME))
        else:
            self.emit(QrCode("2@first-code"))

    async def stop(self) -> None:
        self.stopped += 1

    async def pair_phone(self, phone: str) -> str:
        self.sent.append(("pair", phone))
        return "ABCD-EFGH"

    async def logout(self) -> None:
        self.sent.append(("logout",))

    async def send_text(self, jid: str, text: str) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.sent.append(("text", jid, text))
        return f"M{len(self.sent)}"

    async def send_media(self, jid: str, kind: str, data: bytes, *, mimetype: str,
                         filename: str, caption: str | None) -> str:
        self.sent.append((kind, jid, filename, mimetype, caption or ""))
        return f"M{len(self.sent)}"

    def link(self) -> None:
        """The phone scanned the QR: pair success, then whatsmeow reconnects."""
        self.path.write_bytes(b"linked")
        self.emit(PairSuccess(ME.replace("@", ":7@")))
        self.emit(Disconnected("reconnecting after pairing"))
        self.emit(Connected(ME))
