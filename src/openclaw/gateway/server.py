"""Transport only: accept, upgrade, pump frames through the sans-I/O core, close.

Each WebSocket gets a :class:`~openclaw.protocol.connection.ServerConnection`; bytes
go in, and the actions that come out are carried out here: write a frame, run a
request through the dispatcher, open the session, or close. Plain HTTP requests on
the same port are answered by the app's route table. Everything the gateway *is*
lives in :class:`~openclaw.gateway.app.App`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from websockets.asyncio.server import Server, serve
from websockets.asyncio.server import ServerConnection as WebSocket
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from openclaw import __version__
from openclaw.clock import now_ms
from openclaw.gateway.app import App
from openclaw.gateway.bus import Session
from openclaw.gateway.clients import forget, open_session
from openclaw.gateway.dispatch import Context
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
#: websockets' own logger: warnings only, even with --verbose (it would log every
#: frame, including the logs.tail traffic that reads the log back).
wsproto_log = logging.getLogger("openclaw.gateway.wsproto")
wsproto_log.setLevel(logging.WARNING)

PREAUTH_MAX_PAYLOAD = 64 * 1024


class GatewayServer:
    """The listening socket(s) of one :class:`App`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.server: Server | None = None
        self._aside: set[asyncio.Task[None]] = set()

    def process_request(self, connection: WebSocket, request: Request) -> Response | None:
        """Answer plain HTTP from the route table; let WebSocket upgrades through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        return self.app.routes.answer(self.app, request)

    async def listen(self, hosts: tuple[str, ...], port: int) -> int:
        """Bind and return the port (raises OSError when it is taken)."""
        self.server = await serve(
            self.handle,
            # asyncio's create_server takes a list of hosts; websockets passes it through.
            list(hosts) if len(hosts) > 1 else hosts[0],  # type: ignore[arg-type]
            port,
            process_request=self.process_request,
            max_size=PREAUTH_MAX_PAYLOAD,
            compression=None,
            server_header=f"openclaw-gateway/{__version__}",
            logger=wsproto_log,
            ping_interval=30,
            ping_timeout=30,
            close_timeout=2,
            max_queue=64,
        )
        sockets = self.server.sockets
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def _act(self, ws: WebSocket, conn: ServerConnection, actions: list[Any],
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

    async def _dispatch_aside(self, ws: WebSocket, context: Context,
                              request: RequestFrame) -> None:
        response = await self.app.dispatcher.dispatch(context, request)
        if ws.state.name == "OPEN":  # the client may have gone; the work is done regardless
            self.app.bus.write(ws, response, context.session)

    async def handle(self, ws: WebSocket) -> None:
        """Serve one WebSocket connection from challenge to close."""
        app = self.app
        peer = ws.remote_address
        remote = str(peer[0]) if peer else "unknown"
        # a repeated header joins into one value that the origin check refuses as invalid
        headers = ws.request.headers if ws.request is not None else Headers()
        conn = ServerConnection(app.authenticator, remote, nonce=str(uuid.uuid4()),
                                now_ms=now_ms(),
                                origin=", ".join(headers.get_all("Origin")) or None,
                                host=", ".join(headers.get_all("Host")) or None,
                                allowed_origins=app.config.gateway.control_ui.allowed_origins)
        holder: list[Session] = []
        try:
            app.bus.write(ws, conn.challenge())
            try:
                async with asyncio.timeout(app.settings.handshake_timeout_ms / 1000):
                    while conn.state is State.AWAITING_CONNECT:
                        data = await ws.recv()
                        if not await self._act(ws, conn, conn.receive(data), holder):
                            return
            except TimeoutError:
                await self._act(ws, conn, conn.handshake_timeout(), holder)
                return
            async for data in ws:
                if not await self._act(ws, conn, conn.receive(data), holder):
                    return
        except ConnectionClosed:
            pass
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
        server.close(close_connections=False)
        clients = len(self.app.bus.sessions)
        self.app.bus.broadcast("shutdown", {"reason": reason})
        log.info("shutdown event sent", extra={"fields": {"clients": clients}})
        closers = [asyncio.create_task(ws.close(1012, "service restart"))
                   for ws in server.connections]
        pending: set[asyncio.Task[Any]] = set()
        if closers:
            _, pending = await asyncio.wait(closers, timeout=drain_s)
        if pending:
            log.warning("%d client(s) did not close in time; aborting them", len(pending))
            for ws in server.connections:
                if ws.transport is not None:
                    ws.transport.abort()
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=max(0.1, drain_s))
        except TimeoutError:
            log.warning("server did not finish closing within the drain budget")
