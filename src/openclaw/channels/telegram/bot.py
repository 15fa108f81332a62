"""The Telegram channel: one bot account over the Bot API (long polling, no webhook).

Each configured bot becomes a :class:`TelegramAccount` (:func:`telegram_accounts`
resolves tokens and inheritance from ``channels.telegram``), and each account a
:class:`TelegramChannel`, which implements :class:`~openclaw.channels.base.Channel`:

* ``connect`` calls ``getMe`` to check the token;
* ``poll`` makes one ``getUpdates`` long poll, turns text messages from allowed
  senders into :class:`InboundMessage` and hands them, together with the next
  update offset, to the sink in one call (so the offset is stored in the same
  transaction as the messages, and a restart neither loses nor repeats one);
* ``send`` delivers text with ``sendMessage`` and media with ``sendPhoto`` /
  ``sendDocument`` (local files are uploaded, http(s) URLs are passed to Telegram).

The bot token is part of every request URL (``/bot<token>/method``), so every error
message built here is scrubbed of it, and errors are raised ``from None`` so the
httpx exception (whose request carries the URL) is not printed in tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import msgspec

from openclaw.channels.base import (
    ChannelError,
    InboundMessage,
    InboundSink,
    OutboundMessage,
    SendReceipt,
    TargetError,
    split_text,
)
from openclaw.channels.telegram import CHANNEL, TelegramAccount
from openclaw.httptransport import channel_transport
from openclaw.redact import Redactor

__all__ = ["TelegramChannel"]

logger = logging.getLogger("openclaw.channels.telegram")
# httpx logs each request URL, and Bot API URLs carry the token; it logs outside the
# gateway's redacting handlers, so it is silenced. Failures reach the log as ChannelErrors.
logging.getLogger("httpx").setLevel(logging.CRITICAL + 1)


_JSON_HEADERS: Final = {"Content-Type": "application/json"}
_CALL_TIMEOUT_S = 30.0  # getMe, sendMessage, uploads (per read/write, not in total)
_POLL_SLACK_S = 10  # the HTTP timeout of getUpdates beyond its long-poll timeout
_DEADLINE_SLACK_S = 5  # poll_deadline_s beyond the long-poll timeout
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
_TEXT_LIMIT = 4096  # sendMessage text, in UTF-16 code units
_CAPTION_LIMIT = 1024  # media caption
_PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024  # bigger images are sent as documents
_UPLOAD_LIMIT = 50 * 1024 * 1024  # the Bot API's upload limit for bots
_NUMERIC = re.compile(r"-?\d+")
_USERNAME = re.compile(r"@?([A-Za-z0-9_]{5,32})")
_T_ME = re.compile(r"(?:https?://)?(?:www\.)?(?:t|telegram)\.me/([A-Za-z0-9_]{5,32})/?",
                   re.IGNORECASE)


# --- the channel ---------------------------------------------------------------------


class TelegramChannel:
    """One Telegram bot account, speaking the Bot API over one pooled HTTP client.

    Implements :class:`openclaw.channels.base.Channel`. Errors are
    :class:`ChannelError` with ``transient`` / ``retry_after_s`` / ``maybe_delivered``
    set from what the failure proves: a refused connection never reached Telegram,
    while a lost response to ``sendMessage`` may hide a delivered message.
    """

    name = "telegram"
    spec = CHANNEL

    def __init__(
        self, account: TelegramAccount, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.account = account
        self.account_id = account.account_id
        self.username: str | None = None
        self._redactor = Redactor([account.token])  # masks it raw and URL-encoded
        # The transport (httpx's connection pool) is used directly: the Bot API needs
        # none of the client layer (redirects, cookies, auth, base-URL merging), and
        # skipping it cuts the CPU of each call by about a third (docs/benchmarks.md).
        self._base = f"{account.api_root}/bot{account.token}/"
        self._urls: dict[str, httpx.URL] = {}
        self._transport = transport or channel_transport(max_connections=6)

    # -- Channel ----------------------------------------------------------------------

    @property
    def poll_deadline_s(self) -> float:
        """One ``getUpdates`` round may take the long-poll time plus some slack."""
        return float(self.account.poll_timeout_s + _DEADLINE_SLACK_S)

    async def connect(self) -> dict[str, Any]:
        """Check the token with ``getMe``; return ``{"bot": {"id", "username"}}``."""
        me = await self._call("getMe")
        if not isinstance(me, dict) or not isinstance(me.get("id"), int):
            raise ChannelError(f"Telegram getMe returned no bot: {self._scrub(repr(me))}",
                               transient=True)
        username = me.get("username")
        self.username = username if isinstance(username, str) else None
        if not self.account.allow_from and self.account.dm_policy == "allowlist":
            logger.info("telegram account %s: allowFrom is empty, so every inbound message "
                        "will be ignored (add user or chat ids, or \"*\")", self.account_id)
        return {"bot": {"id": me["id"], "username": self.username}}

    async def poll(self, cursor: str | None, sink: InboundSink) -> None:
        """One ``getUpdates`` long poll; allowed messages and the next offset go to ``sink``.

        ``cursor`` is the next update offset (``None``: whatever Telegram has not had
        confirmed yet). The sink is called once whenever any update arrived, even if
        every one of them was ignored, so that the offset still moves past them.
        """
        params: dict[str, Any] = {
            "timeout": self.account.poll_timeout_s,
            "allowed_updates": ["message"],
        }
        offset = self._parse_cursor(cursor)
        if offset is not None:
            params["offset"] = offset
        updates = await self._call(
            "getUpdates", params, timeout=self.account.poll_timeout_s + _POLL_SLACK_S)
        if not isinstance(updates, list):
            raise ChannelError("Telegram getUpdates returned no list of updates", transient=True)
        max_id: int | None = None
        accepted: list[InboundMessage] = []
        for update in updates:
            if not isinstance(update, dict):
                continue
            update_id = update.get("update_id")
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                continue
            max_id = update_id if max_id is None else max(max_id, update_id)
            message = self._inbound(update.get("message"))
            if message is not None:  # who may talk is decided by the access policy
                accepted.append(message)
        if max_id is not None:
            await sink(accepted, str(max_id + 1))

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Deliver text and/or media to one chat; the receipt names the last message.

        Media go one message each, in order: images (``.jpg .jpeg .png .gif .webp``)
        with ``sendPhoto``, anything else with ``sendDocument``. The text is the first
        item's caption when it fits Telegram's 1024-character limit, otherwise it is
        sent first on its own. Text longer than 4096 characters is split.

        Raises:
            ChannelError: not transient for a missing local file or a refusal
                (e.g. "chat not found"); ``maybe_delivered`` once any part went out.
        """
        chat_id: int | str = (int(message.chat_id) if _NUMERIC.fullmatch(message.chat_id)
                              else message.chat_id)
        items = [await self._media_item(item) for item in message.media]
        if not message.text and not items:
            raise ChannelError("nothing to send: the message has no text and no media",
                               transient=False)
        steps: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        caption: str | None = None
        if message.text:
            if items and _utf16_len(message.text) <= _CAPTION_LIMIT:
                caption = message.text
            else:
                steps.extend(("sendMessage", {"chat_id": chat_id, "text": chunk}, None)
                             for chunk in split_text(message.text, _TEXT_LIMIT, _utf16_units))
        for index, (method, field_name, value) in enumerate(items):
            params: dict[str, Any] = {"chat_id": chat_id}
            if index == 0 and caption is not None:
                params["caption"] = caption
            if isinstance(value, str):
                params[field_name] = value
                steps.append((method, params, None))
            else:
                steps.append((method, params, {field_name: value}))
        results: list[dict[str, Any]] = []
        for method, params, files in steps:
            try:
                result = await self._call(method, params, files)
            except ChannelError as exc:
                if not results:
                    raise
                raise ChannelError(
                    f"{exc.message} (after {len(results)} of {len(steps)} messages "
                    "were delivered)",
                    transient=exc.transient, retry_after_s=exc.retry_after_s,
                    maybe_delivered=True, status=exc.status) from None
            if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
                raise ChannelError(f"Telegram {method} returned no message id",
                                   transient=True, maybe_delivered=True)
            results.append(result)
        last = results[-1]
        chat = last.get("chat")
        chat_text = (str(chat["id"]) if isinstance(chat, dict) and "id" in chat
                     else str(chat_id))
        return SendReceipt(
            message_id=str(last["message_id"]),
            chat_id=chat_text,
            extra={"messageIds": [str(result["message_id"]) for result in results]},
        )

    def normalize_target(self, to: str) -> str:
        """The chat ``to`` names: a numeric id, or ``@name`` (also from a t.me link).

        An optional ``telegram:`` prefix is accepted. Raises :class:`TargetError` for
        anything else, before any network call is made.
        """
        text = to.strip()
        if text[:9].lower() == "telegram:":
            text = text[9:].strip()
        if _NUMERIC.fullmatch(text):
            return text
        if text.startswith("@"):
            match = _USERNAME.fullmatch(text)
            if match:
                return "@" + match[1]
        else:
            match = _T_ME.fullmatch(text)
            if match:
                return "@" + match[1]
        raise TargetError(
            f"not a Telegram chat: {to!r} (use a numeric chat id or @channelname)")

    def snapshot(self) -> dict[str, Any]:
        """Facts for ``channels.status`` (never the token)."""
        return {
            "bot": self.username,
            "apiRoot": self.account.api_root,
            "tokenSource": self.account.token_source,
            "allowFrom": sorted(self.account.allow_from),
            "dmPolicy": self.account.dm_policy,
            "pollTimeoutSeconds": self.account.poll_timeout_s,
        }

    async def close(self) -> None:
        """Close the HTTP client and its pooled connections."""
        await self._transport.aclose()

    # -- the Bot API ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        *,
        timeout: float = _CALL_TIMEOUT_S,
    ) -> Any:
        """POST one Bot API method and return its ``result``, or raise ChannelError."""
        sending = method in _SEND_METHODS
        try:
            if files:
                data = {key: str(value) for key, value in (params or {}).items()}
                request = httpx.Request("POST", self._base + method, data=data, files=files)
            else:
                body = msgspec.json.encode(params) if params else b"{}"
                request = httpx.Request("POST", self._url(method), content=body,
                                        headers=_JSON_HEADERS)
            request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                httpx.ProxyError) as exc:
            raise self._network_error(method, exc, maybe_delivered=False) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ChannelError(f"Telegram {method}: bad apiRoot: {self._scrub(str(exc))}",
                               transient=False) from None
        except httpx.TransportError as exc:
            # ReadTimeout, ReadError, WriteError, RemoteProtocolError, ...: the request
            # may have reached Telegram, so a send may have been delivered.
            raise self._network_error(method, exc, maybe_delivered=sending) from None
        except httpx.HTTPError as exc:  # e.g. a body that fails to decode after the send
            raise self._network_error(method, exc, maybe_delivered=sending) from None
        return self._decode(method, response, sending)

    def _url(self, method: str) -> httpx.URL:
        url = self._urls.get(method)
        if url is None:  # parsed once per method, not on every call
            url = self._urls[method] = httpx.URL(self._base + method)
        return url

    def _decode(self, method: str, response: httpx.Response, sending: bool) -> Any:
        status = response.status_code
        try:
            envelope = msgspec.json.decode(response.content)
        except (ValueError, msgspec.DecodeError):
            envelope = None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("ok"), bool):
            # A proxy's error page, or a truncated answer: for a send, we cannot tell
            # whether Telegram got the request.
            raise ChannelError(
                f"Telegram {method}: HTTP {status} {response.reason_phrase} "
                "with a body that is not a Bot API answer",
                transient=True, maybe_delivered=sending, status=status)
        if envelope["ok"]:
            return envelope.get("result")
        code = envelope.get("error_code")
        code = code if isinstance(code, int) else status
        description = self._scrub(str(envelope.get("description") or f"HTTP {status}"))
        parameters = envelope.get("parameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        if code == 401 or (code == 404 and method == "getMe"):
            reason = "Unauthorized" if code == 401 else "Not Found"
            raise ChannelError(f"Telegram refused the bot token ({code} {reason})",
                               transient=False, status=code)
        if code == 429:
            retry_after = parameters.get("retry_after")
            raise ChannelError(
                f"Telegram {method}: {description}", transient=True, status=code,
                retry_after_s=(float(retry_after) if isinstance(retry_after, (int, float))
                               else None))
        message = f"Telegram {method}: {description}"
        migrated = parameters.get("migrate_to_chat_id")
        if isinstance(migrated, int):
            message += f" (the group is now chat {migrated})"
        # 409 is another poller on the same bot (it may go away: transient) or a
        # webhook that must be deleted first (it will not go away by itself).
        transient = code >= 500 or (code == 409 and "webhook" not in description.lower())
        raise ChannelError(message, transient=transient, status=code)

    def _network_error(
        self, method: str, exc: httpx.HTTPError, *, maybe_delivered: bool
    ) -> ChannelError:
        detail = self._scrub(str(exc)) or type(exc).__name__
        message = f"Telegram {method}: {type(exc).__name__}: {detail}"
        if maybe_delivered:
            message += " (the message may have been delivered)"
        return ChannelError(message, transient=True, maybe_delivered=maybe_delivered)

    def _scrub(self, text: str) -> str:
        """``text`` without the bot token, or any other credential-shaped text."""
        return self._redactor.redact(text)

    # -- helpers ----------------------------------------------------------------------

    def _parse_cursor(self, cursor: str | None) -> int | None:
        if cursor is None or cursor == "":
            return None
        try:
            return int(cursor)
        except ValueError:
            logger.warning("telegram account %s: ignoring a stored cursor that is not an "
                           "update offset: %r", self.account_id, cursor)
            return None

    def _inbound(self, message: Any) -> InboundMessage | None:
        """The InboundMessage for a Bot API Message with text or a caption, else None."""
        if not isinstance(message, dict):
            return None
        text = message.get("text")
        if not isinstance(text, str):
            text = message.get("caption")
        chat = message.get("chat")
        message_id = message.get("message_id")
        if (not isinstance(text, str) or not isinstance(chat, dict) or "id" not in chat
                or not isinstance(message_id, int)):
            return None
        sender = message.get("from")
        if not isinstance(sender, dict) or "id" not in sender:
            # Anonymous group admins and channels speak as a chat.
            sender = message.get("sender_chat")
            if not isinstance(sender, dict) or "id" not in sender:
                sender = chat
        name = sender.get("username") or sender.get("first_name") or sender.get("title")
        date = message.get("date")
        chat_type = chat.get("type")
        return InboundMessage(
            channel=self.name,
            account_id=self.account_id,
            message_id=str(message_id),
            chat_id=str(chat["id"]),
            sender=str(sender["id"]),
            text=text,
            ts=int(date) * 1000 if isinstance(date, (int, float)) else 0,
            sender_name=name if isinstance(name, str) else None,
            chat_type="group" if chat_type in ("group", "supergroup", "channel") else "direct",
        )

    async def _media_item(self, item: str) -> tuple[str, str, str | tuple[str, bytes]]:
        """``(method, field, value)``: a URL string, or ``(file name, bytes)`` to upload."""
        if item.startswith(("http://", "https://")):
            photo = Path(urlsplit(item).path).suffix.lower() in _IMAGE_SUFFIXES
            return ("sendPhoto", "photo", item) if photo else ("sendDocument", "document", item)
        path = Path(item).expanduser()
        try:
            size = path.stat().st_size if path.is_file() else -1
        except OSError:
            size = -1
        if size < 0:
            raise ChannelError(f"media file not found: {item}", transient=False)
        if size > _UPLOAD_LIMIT:
            raise ChannelError(
                f"media file too large for Telegram ({size // (1024 * 1024)} MB, "
                f"at most {_UPLOAD_LIMIT // (1024 * 1024)} MB): {item}", transient=False)
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise ChannelError(f"cannot read media file {item}: {exc.strerror or exc}",
                               transient=False) from None
        upload = (os.path.basename(path), content)
        if path.suffix.lower() in _IMAGE_SUFFIXES and size <= _PHOTO_UPLOAD_LIMIT:
            return "sendPhoto", "photo", upload
        return "sendDocument", "document", upload


def _utf16_len(text: str) -> int:
    """Telegram counts lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _utf16_units(char: str) -> int:
    """UTF-16 code units of one character (2 outside the Basic Multilingual Plane)."""
    return 2 if ord(char) > 0xFFFF else 1

