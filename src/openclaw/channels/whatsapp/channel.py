"""The WhatsApp channel: one linked-device account on top of a :class:`WhatsAppClient`.

Implements :class:`openclaw.channels.base.LoginChannel` for the supervisor, the send
path and the login methods:

* ``connect`` starts the client over the account's credentials store and waits for
  WhatsApp to say connected. No store yet, a QR code instead of a session, or a
  logout end in a ``login_required`` error (the supervisor parks the account until
  someone links it); a connection that cannot be made is a transient error (backoff).
* ``poll`` waits for received messages (one round at most :data:`POLL_WINDOW_S`),
  stores their media under the state directory within the size cap, and hands them
  to the sink. A disconnect, a logout or unanswered keepalives end the round with an
  error, so the supervisor reconnects (or parks the account).
* ``send`` delivers text split at ``textChunkLimit`` and image / video / audio /
  document from a local file or an http(s) URL, the text as the first item's caption.
* ``login_start`` / ``login_wait`` run a QR (or pairing-code) login inside the gateway.

The client is built by a factory (neonize's adapter by default, imported only when
an account first connects), so tests drive this class with a fake client.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import mimetypes
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from openclaw.channels.base import (
    ChannelError,
    InboundMessage,
    InboundSink,
    OutboundMessage,
    SendReceipt,
    split_text,
)
from openclaw.channels.whatsapp import CHANNEL, LOGIN_HINT, WhatsAppAccount
from openclaw.channels.whatsapp.events import (
    ClientFactory,
    ClientStopped,
    Connected,
    Disconnected,
    KeepAliveRestored,
    KeepAliveTimeout,
    LoggedOut,
    MessageReceived,
    PairSuccess,
    QrCode,
    ReceiptReceived,
    SendFailed,
    WhatsAppClient,
    WhatsAppEvent,
)
from openclaw.channels.whatsapp.targets import jid_digits, normalize_target
from openclaw.errors import OpenClawError, UsageError

__all__ = ["POLL_WINDOW_S", "STALL_KEEPALIVES", "WhatsAppChannel"]

log = logging.getLogger("openclaw.channels.whatsapp")

#: One poll round waits this long for messages before it returns empty.
POLL_WINDOW_S: Final = 25.0
#: Unanswered keepalives in a row that count as a stalled connection.
STALL_KEEPALIVES: Final = 2
_MEDIA_SLACK_S = 120.0  # poll deadline beyond the window: media downloads
_KINDS: Final = {"image": (".jpg", ".jpeg", ".png", ".webp"),
                 "video": (".mp4", ".3gp", ".mov", ".mkv"),
                 "audio": (".ogg", ".opus", ".mp3", ".m4a", ".aac", ".amr", ".wav")}
_NOT_LINKED: Final = f"not linked: {LOGIN_HINT}"
_LOGGED_OUT: Final = f"logged out: {LOGIN_HINT}"


def _kind_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return next((kind for kind, suffixes in _KINDS.items() if suffix in suffixes), "document")


class _Login:
    """One login in progress: its session key, the latest QR code, how it ended."""

    def __init__(self, phone: str | None) -> None:
        self.session_key = secrets.token_hex(8)
        self.phone = phone
        self.qr: str | None = None
        self.pairing_code: str | None = None
        self.paired = False
        self.done = False
        self.error: str | None = None


class WhatsAppChannel:
    """One WhatsApp linked-device account (see the module docstring)."""

    name = "whatsapp"
    spec = CHANNEL

    def __init__(self, account: WhatsAppAccount, *,
                 client_factory: ClientFactory | None = None) -> None:
        self.account = account
        self.account_id = account.account_id
        self._factory = client_factory
        self._client: WhatsAppClient | None = None
        self._running = False  # the client's connection task is alive
        self._connected = False
        self._stalled = False
        self._stop_reason: str | None = None  # why the last connection ended
        self._logged_out: str | None = None
        self._qr_seen = False
        self._login: _Login | None = None
        self._received: list[MessageReceived] = []
        self._change = asyncio.Event()
        self.me: str | None = None
        self.receipts = 0
        self._generation = 0  # events of a replaced client are ignored

    # -- events from the client -------------------------------------------------------

    def _notify(self) -> None:
        change, self._change = self._change, asyncio.Event()
        change.set()

    async def _changed(self, timeout_s: float) -> bool:
        """Wait for the next event; False on timeout."""
        try:
            await asyncio.wait_for(self._change.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _on_event(self, event: WhatsAppEvent) -> None:
        login = self._login
        if isinstance(event, QrCode):
            self._qr_seen = True
            if login is not None and not login.done:
                login.qr = event.code
        elif isinstance(event, PairSuccess):
            self.me = event.jid
            if login is not None:
                login.paired = True
            log.info("whatsapp/%s: linked", self.account_id)
        elif isinstance(event, Connected):
            self.me = event.jid or self.me
            self._connected = True
            self._stalled = False
            self._stop_reason = None
            if login is not None and not login.done:
                login.done = True
        elif isinstance(event, Disconnected):
            self._connected = False
            self._stop_reason = event.reason
            if login is not None and not login.done and "linking failed" in event.reason:
                login.done, login.error = True, event.reason
        elif isinstance(event, LoggedOut):
            self._connected = False
            self._logged_out = event.reason
        elif isinstance(event, KeepAliveTimeout):
            if event.count >= STALL_KEEPALIVES:
                self._stalled = True
        elif isinstance(event, KeepAliveRestored):
            self._stalled = False
        elif isinstance(event, ClientStopped):
            self._running = self._connected = False
            self._stop_reason = event.error or self._stop_reason or "connection closed"
            if login is not None and not login.done:
                login.done = True
                login.error = f"cannot reach WhatsApp to link this account: {self._stop_reason}"
        elif isinstance(event, MessageReceived):
            self._received.append(event)
        elif isinstance(event, ReceiptReceived):
            self.receipts += 1
        self._notify()

    # -- the client -------------------------------------------------------------------

    def _make_client(self) -> WhatsAppClient:
        factory = self._factory
        if factory is None:
            try:
                module = importlib.import_module("openclaw.channels.whatsapp.adapter")
            except ImportError as exc:
                raise ChannelError(
                    f"WhatsApp needs the optional neonize package ({exc}): "
                    "pip install 'openclaw-gateway[whatsapp]'", transient=False) from None
            factory = module.create_client
            self._factory = factory
        self._generation += 1
        generation = self._generation

        def handler(event: WhatsAppEvent) -> None:
            if generation == self._generation:
                self._on_event(event)

        return factory(self.account.credentials_path, handler)

    async def _start_client(self) -> WhatsAppClient:
        await self._stop_client()
        if self._factory is None:  # neonize takes ~1 s to import: not on the event loop
            with contextlib.suppress(ImportError):  # _make_client reports it
                await asyncio.to_thread(importlib.import_module,
                                        "openclaw.channels.whatsapp.adapter")
        client = self._make_client()
        self._client = client
        self._running, self._connected, self._stalled = True, False, False
        self._logged_out = self._stop_reason = None
        self._qr_seen = False
        try:
            await client.start()
        except SendFailed as exc:
            self._running = False
            raise ChannelError(exc.message, transient=True) from None
        return client

    async def _stop_client(self) -> None:
        client, self._client = self._client, None
        self._connected = False
        self._generation += 1  # what the old client still reports is stale
        if client is not None:
            await client.stop()
        self._running = False

    def _linked_store_exists(self) -> bool:
        return self.account.credentials_path.exists()

    # -- Channel ----------------------------------------------------------------------

    @property
    def poll_deadline_s(self) -> float:
        """A round waits :data:`POLL_WINDOW_S`, plus time for media downloads."""
        return POLL_WINDOW_S + _MEDIA_SLACK_S

    async def connect(self) -> dict[str, Any]:
        """Connect with the stored credentials; see the module docstring for errors."""
        if self._login is not None and not self._login.done:
            raise ChannelError(f"not linked yet: a login is in progress ({LOGIN_HINT})",
                               transient=False, login_required=True)
        if self._client is not None and self._connected and not self._stalled:
            return self._info()
        if not self._linked_store_exists():
            raise ChannelError(_NOT_LINKED, transient=False, login_required=True)
        await self._start_client()
        while True:
            if self._connected:
                return self._info()
            if self._logged_out is not None:
                await self._forget_credentials()
                raise ChannelError(_LOGGED_OUT, transient=False, login_required=True)
            if self._qr_seen:  # WhatsApp offers a QR code: the store holds no session
                await self._stop_client()
                raise ChannelError(_NOT_LINKED, transient=False, login_required=True)
            if not self._running:
                raise ChannelError(f"cannot reach WhatsApp: {self._stop_reason}",
                                   transient=True)
            await self._changed(3600.0)  # the supervisor bounds connect with its timeout

    def _info(self) -> dict[str, Any]:
        return {"self": self._self_number()}

    def _self_number(self) -> str | None:
        return f"+{jid_digits(self.me)}" if self.me and "s.whatsapp.net" in self.me else None

    async def poll(self, cursor: str | None, sink: InboundSink) -> None:
        """Hand received messages to ``sink``; raise when the connection is gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_WINDOW_S
        while not self._received:
            await self._raise_if_down()
            left = deadline - loop.time()
            if left <= 0 or not await self._changed(left):
                await self._raise_if_down()
                return
        batch, self._received = self._received, []
        messages = [message for message in
                    [await self._inbound(item) for item in batch] if message is not None]
        await sink(messages, None)

    async def _raise_if_down(self) -> None:
        if self._logged_out is not None:
            log.warning("whatsapp/%s: %s", self.account_id, self._logged_out)
            await self._forget_credentials()
            raise ChannelError(_LOGGED_OUT, transient=False, login_required=True)
        if self._stalled:
            raise ChannelError("connection stalled: keepalive pings unanswered; reconnecting",
                               transient=True)
        if not self._connected:
            raise ChannelError(f"disconnected: {self._stop_reason or 'connection closed'}",
                               transient=True)

    async def _inbound(self, item: MessageReceived) -> InboundMessage | None:
        if item.from_me or item.chat.endswith(("@broadcast", "@newsletter")):
            return None
        sender_jid = item.sender_phone or item.sender
        digits = jid_digits(sender_jid)
        me = jid_digits(self.me) if self.me else None
        mentioned = bool(me) and (any(jid_digits(jid) == me for jid in item.mentions)
                                  or f"@{me}" in item.text)
        media = await self._store_media(item) if item.media is not None else ()
        text = item.text or (f"<{item.media.kind}>" if item.media is not None else "")
        return InboundMessage(
            channel=self.name, account_id=self.account_id, message_id=item.message_id,
            chat_id=item.chat, sender=digits, text=text, ts=item.ts_ms,
            sender_name=item.push_name, chat_type="group" if item.is_group else "direct",
            mentioned=mentioned,
            sender_aliases=tuple({f"+{digits}", sender_jid, item.sender} - {digits}),
            media=media)

    async def _store_media(self, item: MessageReceived) -> tuple[str, ...]:
        media = item.media
        assert media is not None
        cap = self.account.media_max_bytes
        if media.size > cap:
            log.info("whatsapp/%s: %s of %d bytes in message %s not stored (over the %d MB cap)",
                     self.account_id, media.kind, media.size, item.message_id,
                     cap // (1024 * 1024))
            return ()
        try:
            data = await media.fetch()
        except (SendFailed, OpenClawError, OSError) as exc:
            log.warning("whatsapp/%s: cannot download the %s of message %s: %s",
                        self.account_id, media.kind, item.message_id, exc)
            return ()
        if len(data) > cap:
            return ()
        suffix = mimetypes.guess_extension(media.mimetype.split(";")[0].strip()) or ".bin"
        if media.filename:
            suffix = Path(media.filename).suffix or suffix
        safe_id = "".join(char for char in item.message_id if char.isalnum())[:64] or "media"
        path = self.account.media_dir / f"{safe_id}{suffix}"

        def write() -> None:
            self.account.media_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)

        await asyncio.to_thread(write)
        return (str(path),)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Deliver text and/or media to one chat; the receipt names the last message."""
        client = self._client
        if client is None or not self._connected:
            raise ChannelError("WhatsApp is not connected" + (
                f" ({_NOT_LINKED})" if not self._linked_store_exists() else ""),
                transient=self._linked_store_exists())
        items = [await self._media_item(item) for item in message.media]
        if not message.text and not items:
            raise ChannelError("nothing to send: the message has no text and no media",
                               transient=False)
        limit = self.account.text_chunk_limit
        caption: str | None = None
        steps: list[tuple[str, Any]] = []
        if message.text and items and items[0][0] != "audio" and len(message.text) <= 1024:
            caption = message.text
        elif message.text:
            steps += [("text", chunk) for chunk in split_text(message.text, limit)]
        for index, item in enumerate(items):
            steps.append(("media", (*item, caption if index == 0 else None)))
        ids: list[str] = []
        for kind, payload in steps:
            try:
                if kind == "text":
                    ids.append(await client.send_text(message.chat_id, payload))
                else:
                    media_kind, data, mimetype, filename, item_caption = payload
                    ids.append(await client.send_media(
                        message.chat_id, media_kind, data, mimetype=mimetype,
                        filename=filename, caption=item_caption))
            except SendFailed as exc:
                partly = (f" (after {len(ids)} of {len(steps)} messages were delivered)"
                          if ids else "")
                raise ChannelError(exc.message + partly, transient=exc.transient,
                                   maybe_delivered=exc.maybe_delivered or bool(ids)) from None
        return SendReceipt(message_id=ids[-1], chat_id=message.chat_id,
                           extra={"messageIds": ids})

    async def _media_item(self, item: str) -> tuple[str, bytes, str, str]:
        """``(kind, bytes, mimetype, file name)`` of a local file or an http(s) URL."""
        cap = self.account.media_max_bytes
        if item.startswith(("http://", "https://")):
            name = Path(urlsplit(item).path).name or "file"
            data, mimetype = await _download(item, cap)
        else:
            path = Path(item[7:] if item.startswith("file://") else item).expanduser()
            if not path.is_file():
                raise ChannelError(f"media file not found: {item}", transient=False)
            if path.stat().st_size > cap:
                raise ChannelError(f"media file over the {cap // (1024 * 1024)} MB limit "
                                   f"(mediaMaxMb): {item}", transient=False)
            data = await asyncio.to_thread(path.read_bytes)
            name, mimetype = path.name, mimetypes.guess_type(path.name)[0] or ""
        mimetype = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        kind = _kind_of(name)
        if kind == "document" and mimetype.split("/")[0] in ("image", "video", "audio"):
            kind = mimetype.split("/")[0]
        return kind, data, mimetype, name

    def normalize_target(self, to: str) -> str:
        """The JID ``to`` names (numbers checked with phonenumbers); TargetError if none."""
        return normalize_target(to)

    def snapshot(self) -> dict[str, Any]:
        """Facts for ``channels.status``: never the credentials or their path's contents."""
        return {
            "linked": self._linked_store_exists(),
            "self": self._self_number(),
            "name": self.account.name,
            "dmPolicy": self.account.access.dm_policy,
            "allowFrom": sorted(self.account.access.allow_from),
            "groupPolicy": self.account.access.group_policy,
            "loginInProgress": self._login is not None and not self._login.done,
            "receipts": self.receipts,
        }

    async def close(self) -> None:
        """Stop the client (the credentials stay for the next start)."""
        await self._stop_client()

    # -- login ------------------------------------------------------------------------

    async def login_start(self, *, force: bool, phone: str | None,
                          timeout_s: float) -> dict[str, Any]:
        """Start linking: wait for the first QR code (and ask for a pairing code with
        ``phone``). Already linked and connected: says so, unless ``force``."""
        if self._connected and not force:
            return {"connected": True, "message": "already linked"
                    + (f" as {self._self_number()}" if self._self_number() else "")}
        if force:
            await self._forget_credentials()
        login = _Login(phone)
        self._login = login
        await self._start_client()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while login.qr is None and not login.done:
            left = deadline - loop.time()
            if left <= 0 or not await self._changed(left):
                await self._abandon(login)
                raise OpenClawError(f"no QR code from WhatsApp within {timeout_s:g}s; "
                                    "check the gateway's network and try again",
                                    retryable=True)
        if login.error is not None:
            self._login = None
            raise OpenClawError(login.error, retryable=True)
        if login.done:  # the store already held a session: connected without a QR
            self._login = None
            return {"connected": True, "message": "linked", "sessionKey": login.session_key}
        if phone is not None:
            client = self._client
            assert client is not None
            try:
                login.pairing_code = await client.pair_phone(phone)
            except SendFailed as exc:
                await self._abandon(login)
                raise OpenClawError(exc.message, retryable=True) from None
        return self._login_view(login, "scan this QR code in WhatsApp: Settings → Linked "
                                       "devices → Link a device")

    def _login_view(self, login: _Login, message: str) -> dict[str, Any]:
        from openclaw.channels.whatsapp.qr import qr_data_url, qr_text

        view: dict[str, Any] = {"connected": False, "message": message,
                                "sessionKey": login.session_key}
        if login.pairing_code is not None:
            view["pairingCode"] = login.pairing_code
            view["message"] = ("enter this code in WhatsApp: Settings → Linked devices → "
                               "Link a device → Link with phone number instead")
        elif login.qr is not None:
            view["qrDataUrl"] = qr_data_url(login.qr)
            view["qrText"] = qr_text(login.qr)
        return view

    async def login_wait(self, *, session_key: str | None, current_qr: str | None,
                         timeout_s: float) -> dict[str, Any]:
        """Wait until linked, failed, or a new QR code replaced ``current_qr``."""
        login = self._login
        if login is None or (session_key is not None and session_key != login.session_key):
            if self._connected:
                return {"connected": True, "message": "linked"}
            raise UsageError("no login in progress for this account: start one with "
                             "web.login.start (openclaw channels login)")
        shown = current_qr
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if login.done:
                self._login = None
                if login.error is not None:
                    await self._stop_client()
                    raise OpenClawError(login.error, retryable=True)
                return {"connected": True, "sessionKey": login.session_key,
                        "message": "linked" + (f" as {self._self_number()}"
                                               if self._self_number() else "")}
            if login.qr is not None and login.pairing_code is None:
                view = self._login_view(login, "a new QR code: scan this one")
                if view["qrDataUrl"] != shown and shown is not None:
                    return view
                shown = view["qrDataUrl"]
            left = deadline - loop.time()
            if left <= 0 or not await self._changed(left):
                return {"connected": False, "sessionKey": login.session_key,
                        "message": "still waiting for the phone to link"}

    async def _abandon(self, login: _Login) -> None:
        if self._login is login:
            self._login = None
        await self._stop_client()

    async def logout(self) -> bool:
        """Unlink on WhatsApp's side when connected, then delete the credentials."""
        had = self._linked_store_exists()
        client = self._client
        if client is not None and self._connected:
            try:
                await client.logout()
            except SendFailed as exc:
                log.warning("whatsapp/%s: %s; deleting the local credentials anyway",
                            self.account_id, exc.message)
        self._login = None
        await self._forget_credentials()
        return had

    async def _forget_credentials(self) -> None:
        await self._stop_client()
        await asyncio.to_thread(shutil.rmtree, self.account.credentials_dir, True)
        self.me = None


async def _download(url: str, cap: int) -> tuple[bytes, str]:
    """Fetch ``url`` (at most ``cap`` bytes); ``(bytes, content type)``."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=30.0, follow_redirects=True) as client, \
                client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ChannelError(f"cannot fetch media {url}: HTTP {response.status_code}",
                                   transient=response.status_code >= 500)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise ChannelError(f"media over the {cap // (1024 * 1024)} MB limit "
                                       f"(mediaMaxMb): {url}", transient=False)
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "").split(";")[0]
    except httpx.HTTPError as exc:
        raise ChannelError(f"cannot fetch media {url}: {type(exc).__name__}: {exc}",
                           transient=True) from None

