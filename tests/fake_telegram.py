"""A loopback stand-in for Telegram's Bot API that speaks the real wire format.

Point the product's Telegram channel at ``fake.api_root`` (its ``apiRoot`` setting) and its
requests arrive here as ``{api_root}/bot{TOKEN}/{method}``, exactly as they would at
https://api.telegram.org: parameters as a JSON body, an urlencoded form, multipart/form-data
(file uploads) or a query string; answers in Telegram's envelopes —
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "..."}``
(plus ``"parameters": {"retry_after": S}`` on 429).

Tests drive it from the other side: ``push_message`` queues an inbound Update for
``getUpdates``; ``sent`` records what the bot delivered; ``fail_next``, ``set_down``,
``stall_polls`` and ``delay`` script outages. Every wait in here is event-driven (a Condition
or an Event), and ``stop()`` releases every waiting handler, so a test can never hang on it.

Stdlib only. Deliberate simplifications: text length is counted in code points (Telegram
counts UTF-16 units after entity parsing), ``allowed_updates`` is accepted but not applied,
``timeout`` may be fractional (handy for fast tests), concurrent polls never get 409.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from loopback import LoopbackFake, TrackedHandler

MAX_TEXT = 4096
MAX_CAPTION = 1024
FIRST_MESSAGE_ID = 1000

_PATH = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)")
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
         "make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart/form-data request."""

    filename: str
    content_type: str
    data: bytes


class ApiError(Exception):
    """An error answer; ``envelope()`` is the JSON body Telegram sends with ``status``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False, "error_code": self.status, "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class _Drop(Exception):
    """Raised inside a handler: close the connection without sending any response."""


# --------------------------------------------------------------------------- parsing


def _header_param(header: str, name: str) -> str | None:
    """The ``name=value`` parameter of a header like ``form-data; name="photo"``."""
    match = re.search(
        rf'(?:^|;)\s*{name}\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))', header, re.IGNORECASE
    )
    if match is None:
        return None
    if match[1] is not None:
        return re.sub(r"\\(.)", r"\1", match[1])
    return match[2]


def parse_multipart(body: bytes, content_type: str) -> dict[str, str | Upload]:
    """Split a multipart/form-data body into text fields (str) and file parts (Upload)."""
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise ApiError(400, "Bad Request: multipart boundary is missing")
    fields: dict[str, str | Upload] = {}
    # With a CRLF in front, every delimiter (the first one included) is CRLF--boundary.
    for chunk in (b"\r\n" + body).split(b"\r\n--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            continue
        filename = _header_param(disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8")
        else:
            content = headers.get("content-type", "application/octet-stream")
            fields[name] = Upload(filename, content, data)
    return fields


def parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Merge query-string and body parameters, whatever encoding the body uses."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: JSON object expected")
        params.update(data)
    elif kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif kind == "multipart/form-data":
        params.update(parse_multipart(body, content_type))
    return params


def _number(params: dict[str, Any], name: str, default: float, kind: type = int) -> Any:
    """A numeric parameter that may arrive as a JSON number or as a string."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _chat_key(value: Any) -> int | str:
    """A chat_id as Telegram accepts it: an integer, its decimal string, or '@username'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.startswith("@") and len(text) > 1:
        return text
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "Bad Request: chat not found") from None


def _chat_object(key: int | str) -> dict[str, Any]:
    """The Chat object Telegram would report for a chat nobody introduced explicitly."""
    if isinstance(key, str):  # '@channel': a stable, made-up supergroup-style id
        return {"id": -(10**12 + zlib.crc32(key.encode())), "title": key[1:],
                "username": key[1:], "type": "channel"}
    if key > 0:
        return {"id": key, "first_name": "Test User", "type": "private"}
    kind = "supergroup" if key <= -(10**12) else "group"
    return {"id": key, "title": "Test group", "type": kind}


# --------------------------------------------------------------------------- the fake


class FakeTelegram(LoopbackFake):
    """The fake Bot API server plus its scripting and inspection surface (see module doc).

    ``known_chats``: None accepts any chat_id; an iterable restricts outbound sends to those
    ids/'@names' (plus chats that ``push_message`` introduced) and answers others with
    400 "Bad Request: chat not found".
    """

    def __init__(self, token: str = "123:ABC", bot_username: str = "openclaw_test_bot",
                 known_chats: Iterable[int | str] | None = None) -> None:
        super().__init__()
        self.token = token
        self.bot_username = bot_username
        self.known_chats = None if known_chats is None else {_chat_key(c) for c in known_chats}
        self.sent: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.polls: list[tuple[int | None, float]] = []
        self.dropped = 0
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._message_ids: dict[int | str, int] = {}
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._file_ids: set[str] = set()
        self._failures: dict[str, list[ApiError]] = {}
        self._delays: dict[str, float] = {}
        self._down = False
        self._down_port = 0
        self._unstalled = threading.Event()
        self._unstalled.set()
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": lambda params: self.bot_user(),
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": lambda params: self._send_media("sendPhoto", "photo", params),
            "sendDocument": lambda params: self._send_media("sendDocument", "document", params),
            "deleteWebhook": lambda params: True,
            "sendChatAction": lambda params: True,
            "setMyCommands": lambda params: True,
        }
        self._canonical = {name.lower(): name for name in self._methods}

    # -- lifecycle

    def _release(self) -> None:
        self._unstalled.set()  # stalled polls end (and are dropped)

    def _accept(self) -> bool:
        if self._down:
            self._note_drop()
            return False
        return True

    @property
    def api_root(self) -> str:
        """The value for the channel's ``apiRoot`` setting."""
        return self.root

    def url(self, method: str, token: str | None = None) -> str:
        """``{api_root}/bot{token}/{method}`` — for tests that call the fake directly."""
        return f"{self.api_root}/bot{self.token if token is None else token}/{method}"

    # -- driving it from the test

    def push_message(self, chat_id: int, text: str, from_id: int | None = None,
                     username: str | None = None) -> int:
        """Queue an inbound text message as an Update for getUpdates; returns its update_id."""
        sender: dict[str, Any] = {
            "id": from_id if from_id is not None else (chat_id if chat_id > 0 else 1_000_001),
            "is_bot": False, "first_name": "Test User",
        }
        if username:
            sender["username"] = username
        chat = _chat_object(chat_id)
        if chat["type"] == "private":
            chat.update({k: v for k, v in sender.items() if k in ("first_name", "username")})
        message: dict[str, Any] = {"from": sender, "chat": chat, "date": int(time.time()),
                                   "text": text}
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        with self._changed:
            self._chats[chat_id] = chat
            update_id = self._next_update_id
            self._next_update_id += 1
            message = {"message_id": self._next_message_id(chat_id), **message}
            self._updates.append({"update_id": update_id, "message": message})
            self._changed.notify_all()
        return update_id

    def fail_next(self, method: str, status: int, description: str | None = None,
                  retry_after: int | None = None, count: int = 1) -> None:
        """Answer the next ``count`` calls of ``method`` with this error envelope.

        ``description`` defaults to Telegram's usual text for ``status``; a 429 always
        carries ``parameters.retry_after`` (1 unless given).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(status, "Error").format(
                retry_after=retry_after)
        with self._lock:
            queue = self._failures.setdefault(method.lower(), [])
            queue.extend(ApiError(status, description, retry_after) for _ in range(count))

    def set_down(self, down: bool) -> None:
        """Down: the listener closes (connecting is refused, as with a dead server) and
        every open connection is cut without a response. Up: listen on the same port."""
        with self._changed:
            if down == self._down:
                return
            self._down = down
        if down and self._server is not None:
            self._down_port = self.port
            self._halt()
        elif not down:
            self.start(self._down_port)

    def stall_polls(self, stall: bool) -> None:
        """While stalled, getUpdates never answers (until un-stalled or stopped)."""
        if stall:
            self._unstalled.clear()
        else:
            self._unstalled.set()

    def delay(self, method: str, seconds: float) -> None:
        """Add ``seconds`` of latency before answering ``method`` (0 removes it)."""
        with self._lock:
            self._delays[method.lower()] = seconds

    # -- inspecting it

    def sent_texts(self) -> list[str]:
        """Texts and captions of delivered messages, in delivery order."""
        with self._lock:
            return [s["text"] if s["text"] is not None else s["caption"] for s in self.sent
                    if s["text"] is not None or s["caption"] is not None]

    def deliveries(self) -> list[tuple[Any, str | None]]:
        """``(chat_id, text)`` of every delivered message, in delivery order (a copy,
        safe to take while the server runs)."""
        with self._lock:
            return [(entry["chat_id"], entry["text"]) for entry in self.sent]

    def _summary(self) -> str:
        return (f"requests={[method for method, _ in self.requests]} "
                f"sent={self.sent_texts()}")

    def bot_user(self) -> dict[str, Any]:
        """The bot's User object, as getMe returns it."""
        return {"id": int(self.token.split(":")[0]) if self.token[:1].isdigit() else 1,
                "is_bot": True, "first_name": "OpenClaw Test", "username": self.bot_username,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    # -- serving one call (runs on a handler thread)

    def _call(self, token: str, raw_method: str, params: dict[str, Any]) -> Any:
        """The ``result`` of one API call; raises ApiError for an error answer or _Drop."""
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        method = self._canonical.get(raw_method.lower())
        if method is None:
            raise ApiError(404, "Not Found")
        with self._changed:
            self.requests.append((method, params))
            if method == "getUpdates":
                offset = params.get("offset")
                self.polls.append((None if offset in (None, "") else _number(params, "offset", 0),
                                   _number(params, "timeout", 0.0, float)))
            self._changed.notify_all()
            delay = self._delays.get(method.lower(), 0.0)
            failures = self._failures.get(method.lower())
            failure = failures.pop(0) if failures else None
        if delay and self._stopping.wait(delay):
            raise _Drop
        if failure is not None:
            raise failure
        return self._methods[method](params)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _number(params, "offset", 0)
        limit = min(max(_number(params, "limit", 100), 1), 100)
        timeout = max(_number(params, "timeout", 0.0, float), 0.0)
        self._unstalled.wait()
        with self._changed:
            if offset < 0:  # keep only the last -offset updates; forget the rest
                del self._updates[:offset]
            elif offset > 0:  # an offset confirms every update below it
                self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
            self._changed.wait_for(
                lambda: self._updates or self._down or self._stopping.is_set(), timeout)
            if self._down or self._stopping.is_set():
                raise _Drop
            return list(self._updates[:limit])

    def _chat(self, value: Any) -> tuple[int | str, dict[str, Any]]:
        if value is None or value == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        key = _chat_key(value)
        with self._lock:
            if key in self._chats:
                return key, self._chats[key]
        if self.known_chats is not None and key not in self.known_chats:
            raise ApiError(400, "Bad Request: chat not found")
        return key, _chat_object(key)

    def _next_message_id(self, key: int | str) -> int:
        with self._lock:
            message_id = self._message_ids.get(key, FIRST_MESSAGE_ID)
            self._message_ids[key] = message_id + 1
            return message_id

    def _deliver(self, method: str, key: int | str, chat: dict[str, Any],
                 params: dict[str, Any], content: dict[str, Any],
                 record: dict[str, Any]) -> dict[str, Any]:
        """Build the sent Message (next id in the chat) and record the delivery."""
        message: dict[str, Any] = {"message_id": self._next_message_id(key)}
        if chat["type"] != "channel":
            message["from"] = self.bot_user()
        message.update(chat=chat, date=int(time.time()), **content)
        entry = {"method": method, "chat_id": key, "message_id": message["message_id"],
                 "text": None, "caption": None, "media": None, "file_name": None,
                 "size": None, "url": None, "file_id": None, "params": params,
                 "ts": time.monotonic(), **record}
        with self._changed:
            self.sent.append(entry)
            self._changed.notify_all()
        return message

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key, chat = self._chat(params.get("chat_id"))
        text = params.get("text")
        if text is None or str(text) == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._deliver("sendMessage", key, chat, params, {"text": text}, {"text": text})

    def _send_media(self, method: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """sendPhoto / sendDocument: an uploaded file, an HTTP URL, or a known file_id."""
        key, chat = self._chat(params.get("chat_id"))
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if not value:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        caption = params.get("caption")
        caption = None if caption in (None, "") else str(caption)
        if caption is not None and len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        record: dict[str, Any] = {"media": kind, "caption": caption}
        if isinstance(value, Upload):
            record.update(file_name=value.filename, size=len(value.data))
            mime = value.content_type
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            record.update(url=value, file_name=posixpath.basename(urlsplit(value).path) or None)
            mime = "application/octet-stream"
        elif isinstance(value, str) and value in self._file_ids:
            record.update(file_id=value)
            mime = "application/octet-stream"
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        with self._lock:
            file_id = f"fake-{kind}-{len(self._file_ids) + 1}"
            self._file_ids.add(file_id)
        size = {"file_size": record["size"]} if "size" in record else {}
        if kind == "photo":
            media: Any = [
                {"file_id": f"{file_id}-thumb", "file_unique_id": f"u{file_id}-thumb",
                 "width": 90, "height": 90},
                {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800,
                 "height": 800, **size},
            ]
        else:
            media = {"file_id": file_id, "file_unique_id": f"u{file_id}",
                     "file_name": record.get("file_name") or "document", "mime_type": mime, **size}
        content: dict[str, Any] = {kind: media}
        if caption is not None:
            content["caption"] = caption
        return self._deliver(method, key, chat, params, content, record)

    def _note_drop(self) -> None:
        with self._changed:
            self.dropped += 1
            self._changed.notify_all()


# --------------------------------------------------------------------------- HTTP plumbing


class _Handler(TrackedHandler):
    """Reads one HTTP request, hands it to FakeTelegram._call, writes the envelope."""

    def do_GET(self) -> None:
        fake = self.server.fake
        if fake._down:
            return self._drop()
        try:
            url = urlsplit(self.path)
            body = self._read_body()
            match = _PATH.fullmatch(url.path)
            if match is None:
                raise ApiError(404, "Not Found")
            params = parse_params(url.query, self.headers.get("Content-Type", ""), body)
            result = fake._call(match["token"], match["method"], params)
            self._reply(200, {"ok": True, "result": result})
        except ApiError as error:
            self._reply(error.status, error.envelope())
        except _Drop:
            self._drop()
        return None

    do_POST = do_GET

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (e.g. its read timeout fired)
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.server.fake._note_drop()



FakeTelegram.handler_class = _Handler
FakeTelegram.thread_name = "fake-telegram"


def gateway_config(fake: FakeTelegram, allow_from: list[int | str], **extra: Any
                   ) -> dict[str, Any]:
    """The ``channels`` part of a gateway config pointing at ``fake`` (1 s long polls)."""
    section = {"botToken": fake.token, "apiRoot": fake.api_root, "allowFrom": allow_from,
               "pollTimeoutSeconds": 1, **extra}
    return {"channels": {"telegram": section}}
