"""Transport only: accept, read the request, upgrade or answer HTTP, pump frames, close.

One port serves both planes. Each accepted socket reads an HTTP request head
(bounded in size and time, so a half-sent request is cut); a WebSocket upgrade is
handed to websockets' sans-I/O protocol and becomes a
:class:`~openclaw.gateway.wsconn.WebSocketConnection` whose messages go through our
own sans-I/O core (:class:`~openclaw.protocol.connection.ServerConnection`); any
other request (with or without a body) is answered by the app's route table, whole
or streamed. Everything the gateway *is* lives in :class:`~openclaw.gateway.app.App`.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import uuid
from typing import Any

from websockets.http11 import Request
from websockets.server import ServerProtocol

from openclaw import __version__
from openclaw.clock import now_ms
from openclaw.gateway.app import App
from openclaw.gateway.bus import Session
from openclaw.gateway.clients import forget, open_session
from openclaw.gateway.dispatch import Context
from openclaw.gateway.http import HttpRequest, HttpResponse, StreamingResponse, json_response
from openclaw.gateway.wsconn import WebSocketConnection
from openclaw.protocol.connection import (
    Accepted,
    CloseConnection,
    Dispatch,
    SendFrame,
    ServerConnection,
    State,
)
from openclaw.protocol.frames import RequestFrame

__all__ = ["PREAUTH_MAX_PAYLOAD", "GatewayServer"]

log = logging.getLogger("openclaw.gateway")
ws_log = logging.getLogger("openclaw.gateway.ws")
#: websockets' own protocol logger: warnings only (it would log every frame).
logging.getLogger("openclaw.gateway.wsproto").setLevel(logging.WARNING)

PREAUTH_MAX_PAYLOAD = 64 * 1024
HEAD_LIMIT = 16 * 1024
HEAD_TIMEOUT_S = 10.0
BODY_LIMIT = 8 * 1024 * 1024
KEEPALIVE_S = 30.0
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


class _Peer(asyncio.Protocol):
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
                                                            transport.abort)
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
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
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

    def _refuse(self, status: int, message: str) -> None:
        assert self.transport is not None
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


class GatewayServer:
    """The listening socket(s) of one :class:`App`, and every connection on them."""

    def __init__(self, app: App, *, head_timeout_s: float = HEAD_TIMEOUT_S,
                 keepalive_s: float = KEEPALIVE_S) -> None:
        self.app = app
        #: How long a client may take to send a whole request head (slow-loris bound).
        self.head_timeout_s = head_timeout_s
        #: Keepalive ping interval; a WebSocket that misses one ping is dropped.
        self.keepalive_s = keepalive_s
        self.server: asyncio.Server | None = None
        self.peers: set[_Peer] = set()
        self._aside: set[asyncio.Task[None]] = set()
        self._sessions: set[asyncio.Task[None]] = set()
        self._keepalive: asyncio.Task[None] | None = None

    async def listen(self, hosts: tuple[str, ...], port: int) -> int:
        """Bind and return the port (raises OSError when it is taken)."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Peer(self), list(hosts), port,
                                               reuse_address=True, backlog=1024)
        self._keepalive = loop.create_task(self._ping_all(), name="keepalive")
        return int(self.server.sockets[0].getsockname()[1]) if self.server.sockets else port

    async def _ping_all(self) -> None:
        """Ping every WebSocket each interval; drop those that did not answer the last."""
        while True:
            await asyncio.sleep(self.keepalive_s)
            for peer in list(self.peers):
                ws = peer.ws
                if ws is None or not ws.open:
                    continue
                if ws.awaiting_pong:
                    ws_log.info("closing %s: no answer to keepalive ping", ws.remote_address)
                    ws.abort()
                else:
                    ws.ping()

    def start_session(self, ws: WebSocketConnection) -> None:
        """Run the control-plane conversation of a freshly upgraded connection."""
        task = asyncio.get_running_loop().create_task(self.handle(ws))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _act(self, ws: WebSocketConnection, conn: ServerConnection, actions: list[Any],
                   holder: list[Session]) -> bool:
        """Carry out protocol actions; return False once the connection is closing."""
        app = self.app
        for action in actions:
            if isinstance(action, Dispatch):  # by far the most common, so first
                context = Context(app, holder[0], action.request.id)
                method = app.dispatcher.methods.get(action.request.method)
                if method is not None and method.concurrent:
                    task = asyncio.get_running_loop().create_task(
                        self._dispatch_aside(ws, context, action.request))
                    self._aside.add(task)
                    task.add_done_callback(self._aside.discard)
                    continue
                response = await app.dispatcher.dispatch(context, action.request)
                app.bus.write(ws, response, holder[0])
            elif isinstance(action, SendFrame):
                app.bus.write(ws, action.data)
            elif isinstance(action, CloseConnection):
                ws_log.debug("closing %s: %s %s", conn.remote_address, action.code, action.reason)
                if conn.origin_verdict is not None and not conn.origin_verdict.ok:
                    ws_log.warning("browser origin refused", extra={"fields": {
                        "origin": conn.origin, "host": conn.host,
                        "reason": conn.origin_verdict.reason}})
                await ws.close(action.code, action.reason)
                return False
            elif isinstance(action, Accepted):
                holder.append(open_session(app, ws, conn.remote_address, action))
        return True

    async def _dispatch_aside(self, ws: WebSocketConnection, context: Context,
                              request: RequestFrame) -> None:
        response = await self.app.dispatcher.dispatch(context, request)
        if ws.open:  # the client may have gone; the work is done regardless
            self.app.bus.write(ws, response, context.session)

    async def handle(self, ws: WebSocketConnection) -> None:
        """Serve one WebSocket connection from challenge to close."""
        app = self.app
        # a repeated header arrives joined into one value, which the origin check refuses
        conn = ServerConnection(app.authenticator, ws.remote_address, nonce=str(uuid.uuid4()),
                                now_ms=now_ms(), origin=ws.headers.get("origin"),
                                host=ws.headers.get("host"),
                                allowed_origins=app.config.gateway.control_ui.allowed_origins)
        holder: list[Session] = []
        try:
            app.bus.write(ws, conn.challenge())
            try:
                async with asyncio.timeout(app.settings.handshake_timeout_ms / 1000):
                    while conn.state is State.AWAITING_CONNECT:
                        data = await ws.recv()
                        if data is None:
                            return
                        if not await self._act(ws, conn, conn.receive(data), holder):
                            return
            except TimeoutError:
                await self._act(ws, conn, conn.handshake_timeout(), holder)
                return
            while (data := await ws.recv()) is not None:
                if not await self._act(ws, conn, conn.receive(data), holder):
                    return
        finally:
            if holder:
                forget(app.bus, app.presence, holder[0])
                ws_log.debug("client disconnected",
                             extra={"fields": {"connId": holder[0].conn_id, "code": ws.close_code}})

    async def shutdown(self, reason: str, drain_s: float) -> None:
        """Tell every client, close them all with 1012, stop listening; bounded by ``drain_s``."""
        server = self.server
        if server is None:
            return
        server.close()
        if self._keepalive is not None:
            self._keepalive.cancel()
        clients = len(self.app.bus.sessions)
        self.app.bus.broadcast("shutdown", {"reason": reason})
        log.info("shutdown event sent", extra={"fields": {"clients": clients}})
        sockets = [peer.ws for peer in self.peers if peer.ws is not None]
        closers = [asyncio.create_task(ws.close(1012, "service restart")) for ws in sockets]
        for peer in list(self.peers):
            if peer.ws is None and peer.transport is not None:  # plain HTTP in progress
                peer.transport.close()
        if closers:
            _, pending = await asyncio.wait(closers, timeout=drain_s)
            if pending:
                log.warning("%d client(s) did not close in time; aborting them", len(pending))
                for ws in sockets:
                    ws.abort()
        for task in [*self._sessions, *self._aside]:  # requests still waiting on work
            task.cancel()
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=max(0.1, drain_s))
        except TimeoutError:
            log.warning("server did not finish closing within the drain budget")
