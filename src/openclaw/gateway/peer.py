"""One accepted socket, until it is upgraded to a WebSocket or its HTTP request answered.

The request head is read here, bounded in size (16 KiB) and time (so a half-sent
request is cut); an upgrade is handed to websockets' sans-I/O protocol and becomes a
:class:`~openclaw.gateway.wsconn.WebSocketConnection`; any other request (with a
``Content-Length`` body of at most 8 MiB) is answered by the app's route table, whole
or streamed, and the connection closes after the answer.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
from typing import TYPE_CHECKING

from websockets.http11 import Request
from websockets.server import ServerProtocol

from openclaw import __version__
from openclaw.gateway.http import HttpRequest, HttpResponse, StreamingResponse, json_response
from openclaw.gateway.wsconn import WebSocketConnection

if TYPE_CHECKING:
    from openclaw.gateway.server import GatewayServer

__all__ = ["BODY_LIMIT", "HEAD_LIMIT", "HEAD_TIMEOUT_S", "PREAUTH_MAX_PAYLOAD", "Peer"]

log = logging.getLogger("openclaw.gateway")
#: websockets' own protocol logger: warnings only (it would log every frame).
logging.getLogger("openclaw.gateway.wsproto").setLevel(logging.WARNING)

PREAUTH_MAX_PAYLOAD = 64 * 1024
HEAD_LIMIT = 16 * 1024
HEAD_TIMEOUT_S = 10.0
BODY_LIMIT = 8 * 1024 * 1024
_SERVER = f"openclaw-gateway/{__version__}"


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


def _head(status: int, headers: list[tuple[str, str]], length: int | None) -> bytes:
    lines = [_status_line(status)]
    names = {name.lower() for name, _ in headers}
    extra = [("Server", _SERVER), ("Date", email.utils.formatdate(usegmt=True)),
             ("Connection", "close")]
    if length is not None and "content-length" not in names:
        extra.append(("Content-Length", str(length)))
    for name, value in (*headers, *extra):
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    lines.append(b"\r\n")
    return b"".join(lines)


class Peer(asyncio.Protocol):
    """One accepted socket until it is upgraded (then frames go to its WebSocket) or
    its HTTP request is answered."""

    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.remote = "unknown"
        self.buffer = bytearray()
        self.ws: WebSocketConnection | None = None
        self.request: HttpRequest | None = None
        self.body_left = 0
        self.task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None

    # ------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.remote = str(peer[0]) if peer else "unknown"
        self._timer = asyncio.get_running_loop().call_later(self.server.head_timeout_s,
                                                            self._head_timeout)
        self.server.peers.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.peers.discard(self)
        self._stop_timer()
        if self.ws is not None:
            self.ws.connection_lost()
        elif self.task is not None:
            self.task.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        if self.ws is not None:
            self.ws.pause_writing()
            return
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.ws is not None:
            self.ws.resume_writing()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self.ws.data_received(data)
            return
        if self.request is not None:  # reading the body
            if self.body_left > 0:
                self.buffer += data[: self.body_left]
                self.body_left -= min(len(data), self.body_left)
                if self.body_left == 0:
                    self._answer()
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > HEAD_LIMIT:
                self._refuse(431, "request header fields too large")
            return
        self._on_head(bytes(self.buffer[: end + 4]), bytes(self.buffer[end + 4:]))

    # ------------------------------------------------------------- the request head

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timeout(self) -> None:
        """Slow-loris bound: the request head did not arrive whole in time."""
        assert self.transport is not None
        self.server.app.refusals.note(
            "head-timeout", "closing a connection: request head not sent in time",
            {"remote": self.remote, "timeoutS": self.server.head_timeout_s,
             "bytes": len(self.buffer)})
        self.transport.abort()

    def _refuse(self, status: int, message: str) -> None:
        assert self.transport is not None
        self.server.app.refusals.note(f"http-{status}", f"HTTP request refused: {message}",
                                      {"remote": self.remote, "status": status})
        body = json_response(status, {"ok": False, "error": message}).body
        self.transport.write(_head(status, [("Content-Type", "application/json")], len(body))
                             + body)
        self.transport.close()
        self.request = HttpRequest("", "", "", {}, b"", self.remote)  # ignore what follows

    def _on_head(self, head: bytes, rest: bytes) -> None:
        lines = head[:-4].split(b"\r\n")
        try:
            method, target, version = lines[0].decode("ascii").split(" ")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep or not name or name != name.strip():
                    raise ValueError(line)
                key = name.lower()
                headers[key] = f"{headers[key]}, {value.strip()}" if key in headers \
                    else value.strip()
        except ValueError:
            self._refuse(400, "malformed HTTP request")
            return
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self._refuse(505, "HTTP/1.1 only")
            return
        connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
        if headers.get("upgrade", "").lower() == "websocket" and "upgrade" in connection:
            self._upgrade(head + rest, headers)
            return
        if "transfer-encoding" in headers:
            self._refuse(411, "send the body with a Content-Length")
            return
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= BODY_LIMIT:
            self._refuse(413, f"request body over {BODY_LIMIT} bytes")
            return
        path, _, query = target.partition("?")
        self._stop_timer()
        self.request = HttpRequest(method.upper(), path, query, headers, b"", self.remote)
        self.buffer = bytearray(rest[:length])
        self.body_left = length - len(self.buffer)
        if self.body_left == 0:
            self._answer()

    # ------------------------------------------------------------- WebSocket

    def _upgrade(self, data: bytes, headers: dict[str, str]) -> None:
        assert self.transport is not None
        protocol = ServerProtocol(max_size=PREAUTH_MAX_PAYLOAD,
                                  logger=logging.getLogger("openclaw.gateway.wsproto"))
        protocol.receive_data(data)
        requests = [e for e in protocol.events_received() if isinstance(e, Request)]
        if not requests:  # not a valid HTTP request after all
            self._refuse(400, "malformed WebSocket upgrade request")
            return
        response = protocol.accept(requests[0])
        response.headers["Server"] = _SERVER
        protocol.send_response(response)
        for chunk in protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
        if response.status_code != 101:
            self.server.app.refusals.note(
                f"upgrade-{response.status_code}", "WebSocket upgrade refused",
                {"remote": self.remote, "status": response.status_code})
            self.transport.close()
            return
        self._stop_timer()
        self.ws = WebSocketConnection(protocol, self.transport, self.remote, headers)
        self.server.start_session(self.ws)

    # ------------------------------------------------------------- plain HTTP

    def _answer(self) -> None:
        assert self.request is not None
        request = HttpRequest(self.request.method, self.request.path, self.request.query,
                              self.request.headers, bytes(self.buffer), self.remote)
        self.buffer = bytearray()
        self.task = asyncio.get_running_loop().create_task(self._respond(request))

    async def _respond(self, request: HttpRequest) -> None:
        transport = self.transport
        assert transport is not None
        try:
            answer = await self.server.app.routes.answer(self.server.app, request)
        except Exception:
            log.exception("HTTP %s %s failed", request.method, request.path[:100])
            answer = json_response(500, {"ok": False, "error": "internal error; see the log"})
        if isinstance(answer, HttpResponse):
            body = b"" if request.method == "HEAD" else answer.body
            transport.write(_head(answer.status, answer.headers, len(answer.body)) + body)
        else:
            await self._stream(transport, answer)
        transport.close()

    async def _stream(self, transport: asyncio.Transport, answer: StreamingResponse) -> None:
        transport.write(_head(answer.status, answer.headers, None))
        async for chunk in answer.chunks:
            if transport.is_closing():
                break
            transport.write(chunk)
            if self._writable is not None:
                await self._writable
                self._writable = None
