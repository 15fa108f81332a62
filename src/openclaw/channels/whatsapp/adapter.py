"""The only module that touches ``neonize`` (WhatsApp Web through whatsmeow).

:class:`NeonizeClient` implements :class:`~openclaw.channels.whatsapp.events.WhatsAppClient`:
it runs one linked-device connection over the SQLite credentials store it is given,
translates neonize's protobuf events into the channel's own dataclasses
(:mod:`openclaw.channels.whatsapp.events`) and its exceptions into
:class:`~openclaw.channels.whatsapp.events.SendFailed`. Nothing of neonize's types
leaves this module, so the channel can be tested against a fake client.

neonize calls back from Go threads and dispatches to the asyncio loop that first
connected a client in the process; the gateway has one loop, so that is the one.
The credentials store (keys of the linked device) is created owner-only, and
whatsmeow's own log is kept at warnings, so neither keys nor QR codes reach the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from neonize.aioze.client import NewAClient
from neonize.aioze.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import JID
from neonize.utils.jid import Jid2String

from openclaw.channels.whatsapp.events import (
    ClientStopped,
    Connected,
    Disconnected,
    EventHandler,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    MediaRef,
    MessageReceived,
    PairSuccess,
    QrCode,
    ReceiptReceived,
    SendFailed,
    WhatsAppEvent,
)

__all__ = ["NeonizeClient", "create_client"]

log = logging.getLogger("openclaw.channels.whatsapp")
for _name in ("whatsmeow", "neonize"):  # their debug output carries protocol frames
    logging.getLogger(_name).setLevel(logging.WARNING)

_STOP_WAIT_S = 10.0
_MEDIA_FIELDS = (("imageMessage", "image"), ("videoMessage", "video"),
                 ("audioMessage", "audio"), ("documentMessage", "document"),
                 ("stickerMessage", "sticker"))
_RECEIPT_KINDS = {1: "delivered", 4: "read", 5: "read", 6: "played", 7: "played"}
# whatsmeow errors that prove the message never left this machine.
_NOT_SENT = ("not connected", "not logged in", "websocket", "failed to get device",
             "no signal session", "failed to upload", "upload", "invalid jid", "usync")
_MAYBE_SENT = ("timed out", "timeout", "deadline", "context canceled")


def create_client(path: Path, handler: EventHandler) -> NeonizeClient:
    """The factory the channel uses by default (see ``events.ClientFactory``)."""
    return NeonizeClient(path, handler)


def _jid(text: str) -> Any:
    user, _, server = text.partition("@")
    return JID(User=user.split(":", 1)[0], Server=server or "s.whatsapp.net", RawAgent=0,
               Device=0, Integrator=0, IsEmpty=False)


class NeonizeClient:
    """One WhatsApp linked device over neonize (see the module docstring)."""

    def __init__(self, path: Path, handler: EventHandler) -> None:
        self.path = path
        self._handler = handler
        self._client: Any = None
        self._task: asyncio.Future[Any] | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Create the credentials store owner-only and connect in the background."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        os.chmod(self.path, 0o600)
        client = NewAClient(str(self.path))
        self._client = client
        self._subscribe(client)
        try:
            task = await client.connect()
        except Exception as exc:  # the library refused before connecting
            raise SendFailed(f"cannot start the WhatsApp client: {_describe(exc)}") from None
        self._task = task
        task.add_done_callback(self._on_done)

    async def stop(self) -> None:
        """Stop the connection and wait (bounded) for its task to end."""
        client, task = self._client, self._task
        self._client = None
        if client is None:
            return
        try:
            await client.stop()
        except Exception as exc:
            log.debug("stopping the WhatsApp client: %s", _describe(exc))
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=_STOP_WAIT_S)

    def _on_done(self, task: asyncio.Future[Any]) -> None:
        error: str | None = None
        if task.cancelled():
            error = "cancelled"
        elif task.exception() is not None:
            error = _describe(task.exception())
        self._emit(ClientStopped(error))

    # -- events -----------------------------------------------------------------------

    def _emit(self, event: WhatsAppEvent) -> None:
        try:
            self._handler(event)
        except Exception:  # a bug in the channel must not kill neonize's dispatch
            log.exception("WhatsApp event handler failed on %s", type(event).__name__)

    def _subscribe(self, client: Any) -> None:
        async def on_qr(_: Any, data: bytes) -> None:
            self._emit(QrCode(data.decode("utf-8", "replace")))

        client.qr(on_qr)

        def on(kind: Any, translate: Any) -> None:
            async def handler(_: Any, event: Any) -> None:
                translated = translate(event)
                if translated is not None:
                    self._emit(translated)
            client.event(kind)(handler)

        on(PairStatusEv, _pair_status)
        on(ConnectedEv, lambda _: Connected(_own_jid(client)))
        on(DisconnectedEv, lambda _: Disconnected())
        on(LoggedOutEv, lambda event: LoggedOut(f"logged out by WhatsApp (reason {event.Reason})"))
        on(StreamReplacedEv, lambda _: Disconnected(
            "another connection took over this session (stream replaced)"))
        on(TemporaryBanEv, lambda event: Disconnected(
            f"temporarily banned by WhatsApp (code {event.Code}, {event.Expire} s left)"))
        on(ConnectFailureEv, lambda event: Disconnected(
            f"WhatsApp refused the connection ({event.Reason}: {event.Message})"))
        on(ClientOutdatedEv, lambda _: Disconnected(
            "WhatsApp says this client is outdated: upgrade neonize"))
        on(KeepAliveTimeoutEv, lambda event: KeepAliveTimeout(int(event.ErrorCount)))
        on(KeepAliveRestoredEv, lambda _: KeepAliveRestored())
        on(MessageEv, self._message)
        on(ReceiptEv, _receipt)

    def _message(self, event: Any) -> MessageReceived | None:
        info = event.Info
        source = info.MessageSource
        message = event.Message
        text = ""
        mentions: tuple[str, ...] = ()
        if message.conversation:
            text = message.conversation
        elif message.HasField("extendedTextMessage"):
            text = message.extendedTextMessage.text
            mentions = tuple(message.extendedTextMessage.contextInfo.mentionedJID)
        media: MediaRef | None = None
        for field, kind in _MEDIA_FIELDS:
            if message.HasField(field):
                part = getattr(message, field)
                text = text or getattr(part, "caption", "") or ""
                if part.HasField("contextInfo"):
                    mentions = mentions or tuple(part.contextInfo.mentionedJID)
                client = self._client

                async def fetch(client: Any = client, raw: Any = message) -> bytes:
                    if client is None:
                        raise SendFailed("the WhatsApp client is stopped")
                    data: bytes = await client.download_any(raw)
                    return data

                media = MediaRef(kind=kind, mimetype=getattr(part, "mimetype", "") or "",
                                 size=int(getattr(part, "fileLength", 0) or 0),
                                 filename=getattr(part, "fileName", None) or None, fetch=fetch)
                break
        if not text and media is None:
            return None  # reactions, protocol messages, polls, …
        sender_alt = (Jid2String(source.SenderAlt)
                      if source.HasField("SenderAlt") and source.SenderAlt.User else None)
        return MessageReceived(
            message_id=info.ID,
            chat=Jid2String(source.Chat),
            sender=Jid2String(source.Sender),
            text=text,
            ts_ms=int(info.Timestamp) * (1 if info.Timestamp > 10**11 else 1000),
            is_group=bool(source.IsGroup),
            from_me=bool(source.IsFromMe),
            push_name=info.Pushname or None,
            sender_phone=sender_alt if sender_alt and "s.whatsapp.net" in sender_alt else None,
            mentions=mentions,
            media=media,
        )

    # -- requests ---------------------------------------------------------------------

    def _require(self) -> Any:
        if self._client is None:
            raise SendFailed("WhatsApp is not connected", transient=True)
        return self._client

    async def pair_phone(self, phone: str) -> str:
        """A pairing code for ``phone`` (raises SendFailed, e.g. when not connected)."""
        try:
            code: str = await self._require().PairPhone(phone, True)
        except SendFailed:
            raise
        except Exception as exc:
            raise SendFailed(f"cannot get a pairing code: {_describe(exc)}") from None
        return code

    async def logout(self) -> None:
        """Unlink the device on WhatsApp's side."""
        try:
            await self._require().logout()
        except SendFailed:
            raise
        except Exception as exc:
            raise SendFailed(f"WhatsApp logout failed: {_describe(exc)}") from None

    async def send_text(self, jid: str, text: str) -> str:
        """Send ``text`` to ``jid``; the message id."""
        client = self._require()
        try:
            response = await client.send_message(_jid(jid), text)
        except Exception as exc:
            raise _send_error(exc) from None
        return str(response.ID)

    async def send_media(self, jid: str, kind: str, data: bytes, *, mimetype: str,
                         filename: str, caption: str | None) -> str:
        """Upload and send one image, video, audio or document; the message id."""
        client = self._require()
        try:
            if kind == "image":
                message = await client.build_image_message(data, caption=caption)
            elif kind == "video":
                message = await client.build_video_message(data, caption=caption)
            elif kind == "audio":
                message = await client.build_audio_message(data)
            else:
                message = await client.build_document_message(
                    data, caption=caption, filename=filename, mimetype=mimetype or None)
        except Exception as exc:  # building uploads the file: nothing was sent yet
            raise SendFailed(f"cannot upload {kind} {filename}: {_describe(exc)}",
                             transient=True) from None
        try:
            response = await client.send_message(_jid(jid), message)
        except Exception as exc:
            raise _send_error(exc) from None
        return str(response.ID)


def _own_jid(client: Any) -> str | None:
    device = getattr(client, "me", None)  # neonize keeps the Device it was told about
    if device is None or not device.HasField("JID") or not device.JID.User:
        return None
    return str(Jid2String(device.JID))


def _pair_status(event: Any) -> WhatsAppEvent | None:
    if event.Error:
        return Disconnected(f"linking failed: {event.Error}")
    return PairSuccess(Jid2String(event.ID))


def _receipt(event: Any) -> ReceiptReceived:
    return ReceiptReceived(chat=Jid2String(event.MessageSource.Chat),
                           message_ids=tuple(event.MessageIDs),
                           kind=_RECEIPT_KINDS.get(int(event.Type), "other"))


def _describe(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text or type(exc).__name__


def _send_error(exc: Exception) -> SendFailed:
    """Classify a failed send: never sent (retry is safe), or maybe delivered."""
    text = _describe(exc)
    lowered = text.lower()
    if any(marker in lowered for marker in _MAYBE_SENT):
        return SendFailed(f"WhatsApp send: {text}", transient=True, maybe_delivered=True)
    if any(marker in lowered for marker in _NOT_SENT):
        return SendFailed(f"WhatsApp send: {text}", transient=True)
    # Anything else happened after the request was built: it may have gone out.
    return SendFailed(f"WhatsApp send: {text}", transient=True, maybe_delivered=True)
