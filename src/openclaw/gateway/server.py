"""Transport only: accept, read the request, upgrade or answer HTTP, pump frames, close.

One port serves both planes. Each accepted socket is a
:class:`~openclaw.gateway.peer.Peer` until it is upgraded or answered; an upgraded
:class:`~openclaw.gateway.wsconn.WebSocketConnection`'s messages go through our own
sans-I/O core (:class:`~openclaw.protocol.connection.ServerConnection`) here, and
keepalive pings and shutdown cover every connection. Everything the gateway *is*
lives in :class:`~openclaw.gateway.app.App`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from openclaw.clock import now_ms
from openclaw.gateway.app import App
from openclaw.gateway.bus import Session
from openclaw.gateway.clients import forget, open_session
from openclaw.gateway.dispatch import Context
from openclaw.gateway.peer import HEAD_TIMEOUT_S, Peer
from openclaw.gateway.rss import release_heap
from openclaw.gateway.wsconn import WebSocketConnection
from openclaw.protocol.connection import (
    CLOSE_INVALID_DATA,
    CLOSE_PROTOCOL,
    CLOSE_TOO_BIG,
    Accepted,
    CloseConnection,
    Dispatch,
    SendFrame,
    ServerConnection,
    State,
)
from openclaw.protocol.frames import RequestFrame

__all__ = ["GatewayServer"]

log = logging.getLogger("openclaw.gateway")
ws_log = logging.getLogger("openclaw.gateway.ws")

KEEPALIVE_S = 30.0
#: After a message this large (bytes) is handled, freed heap goes back to the system.
BIG_MESSAGE = 1024 * 1024


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
        self.peers: set[Peer] = set()
        self._aside: set[asyncio.Task[None]] = set()
        self._sessions: set[asyncio.Task[None]] = set()
        self._keepalive: asyncio.Task[None] | None = None

    async def listen(self, hosts: tuple[str, ...], port: int) -> int:
        """Bind and return the port (raises OSError when it is taken)."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Peer(self), list(hosts), port,
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
                    self.app.refusals.note("keepalive", "closing a client: no answer to "
                                           "keepalive ping", {"remote": ws.remote_address},
                                           level=logging.INFO)
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
                self._note_refusal(conn, action)
                await ws.close(action.code, action.reason)
                return False
            elif isinstance(action, Accepted):
                holder.append(open_session(app, ws, conn.remote_address, action))
        return True

    def _note_refusal(self, conn: ServerConnection, action: CloseConnection) -> None:
        """Log a connection closed by the protocol: the first of a burst of the same kind
        in full, the rest as a count (an attack must not write a line per attempt)."""
        fields: dict[str, Any] = {"remote": conn.remote_address, "code": action.code,
                                  "reason": action.reason}
        if conn.origin_verdict is not None and not conn.origin_verdict.ok:
            kind, message = "origin", "browser origin refused"
            fields.update(origin=conn.origin, host=conn.host, reason=conn.origin_verdict.reason)
        elif action.reason == "handshake timeout":
            kind, message = "handshake-timeout", "closing a client: no connect in time"
        elif action.reason.startswith("unauthorized: too many"):
            kind, message = "auth-locked", "connect refused: address locked out"
        elif action.reason.startswith("unauthorized"):
            kind, message = "auth", "connect refused: authentication failed"
        else:
            kind, message = f"close-{action.code}", f"closing a client: {action.code}"
        self.app.refusals.note(kind, message, fields)

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
            while True:
                if ws.writing_paused:  # the client reads its answers before it is read again
                    await ws.drain()
                if (data := await ws.recv()) is None:
                    return
                big = len(data) > BIG_MESSAGE
                if not await self._act(ws, conn, conn.receive(data), holder):
                    return
                if big:
                    data = None
                    release_heap()
        finally:
            if ws.largest_message > BIG_MESSAGE:
                data = None  # a refused big message is still held here
                release_heap()
            failed = ws.protocol.close_sent
            if conn.state is not State.CLOSED and failed is not None and failed.code in (
                    CLOSE_PROTOCOL, CLOSE_INVALID_DATA, CLOSE_TOO_BIG):  # by the framing layer
                self.app.refusals.note(f"close-{failed.code}",
                                       f"closing a client: {failed.code}",
                                       {"remote": ws.remote_address, "code": failed.code,
                                        "reason": failed.reason})
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
        self.app.refusals.flush()  # the counts of bursts still under way
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=max(0.1, drain_s))
        except TimeoutError:
            log.warning("server did not finish closing within the drain budget")
