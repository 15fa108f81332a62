"""The listener: one port for the WebSocket control plane and a few HTTP routes.

:class:`Gateway` owns the live state (sessions, presence, heartbeat, health
version) and moves bytes between websockets and the sans-I/O
:class:`~openclaw.protocol.connection.ServerConnection`. Plain HTTP ``GET`` on the
same port answers ``/health``/``/healthz`` (alive) and ``/readyz``/``/ready``
(ready to serve; 503 while starting or draining).
"""

from __future__ import annotations

import asyncio
import http
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, serve
from websockets.asyncio.server import ServerConnection as WebSocket
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from openclaw import PROTOCOL_VERSION, __version__
from openclaw.clock import now_ms
from openclaw.config import Config, parse_duration_ms
from openclaw.gateway.bus import EventBus, Session
from openclaw.gateway.dispatch import Context, Dispatcher
from openclaw.gateway.heartbeat import Heartbeat
from openclaw.gateway.methods import register_all
from openclaw.gateway.presence import HIDDEN_MODES, Presence
from openclaw.gateway.settings import GatewaySettings
from openclaw.logs import FileLog
from openclaw.paths import Profile
from openclaw.protocol.auth import Authenticator, RateLimit
from openclaw.protocol.connection import (
    Accepted,
    CloseConnection,
    Dispatch,
    SendFrame,
    ServerConnection,
    State,
)
from openclaw.protocol.frames import encode, encode_response

if TYPE_CHECKING:
    from openclaw.gateway.messaging import Messaging

__all__ = ["PREAUTH_MAX_PAYLOAD", "Gateway"]

log = logging.getLogger("openclaw.gateway")
ws_log = logging.getLogger("openclaw.gateway.ws")
#: websockets' own logger: warnings only, even with --verbose (it would log every
#: frame, including the logs.tail traffic that reads the log back).
wsproto_log = logging.getLogger("openclaw.gateway.wsproto")
wsproto_log.setLevel(logging.WARNING)

PREAUTH_MAX_PAYLOAD = 64 * 1024
DEFAULT_AGENT_ID = "main"
_EVENTS = ["connect.challenge", "tick", "presence", "health", "heartbeat", "shutdown",
           "message", "agent"]



class _Rss:
    """Current resident set size, read from an open ``/proc/self/statm`` (cheap).

    Where ``/proc`` is missing (macOS) the peak RSS from ``getrusage`` stands in.
    """

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        try:
            self._fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self._fd = None

    def __call__(self) -> int:
        if self._fd is not None:
            try:
                return int(os.pread(self._fd, 128, 0).split()[1]) * self._page
            except (OSError, ValueError, IndexError):
                pass
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_rss_bytes = _Rss()


class Gateway:
    """The gateway's live state and its connection handler."""

    def __init__(
        self,
        config: Config,
        settings: GatewaySettings,
        profile: Profile,
        *,
        config_exists: bool,
        file_log: FileLog,
    ) -> None:
        self.config = config
        self.settings = settings
        self.profile = profile
        self.config_exists = config_exists
        self.file_log = file_log
        gw = config.gateway
        limits = gw.auth.rate_limit
        self.authenticator = Authenticator(
            settings.auth_mode,
            token=settings.token,
            password=settings.password,
            limit=RateLimit(limits.max_attempts, limits.window_ms, limits.lockout_ms),
            loopback_limit=RateLimit(
                limits.loopback_max_attempts, limits.loopback_window_ms, limits.loopback_lockout_ms
            ),
        )
        self.boot_id = str(uuid.uuid4())
        self.instance_id = f"gateway-{self.boot_id[:8]}"
        self.started_monotonic = time.monotonic()
        self.started_at_ms = now_ms()
        self.tick_interval_ms = gw.tick_interval_ms
        self.handshake_timeout_s = settings.handshake_timeout_ms / 1000
        self.max_payload = gw.max_payload
        self.bus = EventBus(gw.max_buffered_bytes, on_drop=self._forget)
        self.presence = Presence(self.instance_id, settings.display_host)
        heartbeat_text = config.agents.defaults.heartbeat.every
        self.heartbeat = Heartbeat(
            parse_duration_ms(heartbeat_text),
            profile.state_dir / "heartbeat.json",
            self._on_heartbeat,
            heartbeat_text,
        )
        self.health_version = 1
        self.messaging: Messaging | None = None
        self._health_fingerprint = self._fingerprint()
        self.queued_system_events: list[str] = []
        self.dispatcher = Dispatcher()
        register_all(self.dispatcher)
        self.ready = False
        self.draining = False
        self._aside: set[asyncio.Task[None]] = set()
        self.server: Server | None = None
        self.port = settings.port
        self._tick_task: asyncio.Task[None] | None = None
        self._presence_flush: asyncio.TimerHandle | None = None
        self._presence_last = 0.0
        self._presence_window = 0.05
        self._conn_counter = 0

    # ----------------------------------------------------------------- state views

    @property
    def log_path(self) -> Path:
        """The log file being written right now."""
        return self.file_log.current_path

    @property
    def uptime_ms(self) -> int:
        """Milliseconds since start."""
        return int((time.monotonic() - self.started_monotonic) * 1000)

    def state_version(self) -> dict[str, int]:
        """``{presence, health}`` counters."""
        return {"presence": self.presence.version, "health": self.health_version}

    def health_snapshot(self, probe: bool = False) -> dict[str, Any]:
        """The ``health`` payload."""
        started = time.perf_counter()
        heartbeat = self.heartbeat.summary(DEFAULT_AGENT_ID)
        sessions: dict[str, Any] = {"path": None, "count": 0, "recent": []}
        snapshot: dict[str, Any] = {
            "ok": True,
            "ts": now_ms(),
            "durationMs": 0,
            "channels": {},
            "channelOrder": [],
            "channelLabels": {},
            "heartbeatSeconds": self.heartbeat.seconds,
            "defaultAgentId": DEFAULT_AGENT_ID,
            "agents": [
                {
                    "agentId": DEFAULT_AGENT_ID,
                    "isDefault": True,
                    "heartbeat": heartbeat,
                    "sessions": sessions,
                }
            ],
            "sessions": sessions,
            "process": {
                "pid": os.getpid(),
                "rssBytes": _rss_bytes(),
                "uptimeMs": self.uptime_ms,
            },
        }
        if self.messaging is not None:
            snapshot.update(self.messaging.health())
        snapshot["durationMs"] = round((time.perf_counter() - started) * 1000)
        return snapshot

    def status_summary(self, include_channels: bool = True) -> dict[str, Any]:
        """The ``status`` payload."""
        return {
            "runtimeVersion": __version__,
            "heartbeat": {
                "defaultAgentId": DEFAULT_AGENT_ID,
                "agents": [self.heartbeat.summary(DEFAULT_AGENT_ID)],
            },
            "channelSummary": self._channel_summary(),
            "agent": self.messaging.agent.describe() if self.messaging else None,
            "sessions": self._sessions_summary(),
            "queuedSystemEvents": list(self.queued_system_events),
            "gateway": {
                "pid": os.getpid(),
                "bootId": self.boot_id,
                "profile": self.profile.name,
                "port": self.port,
                "bind": self.settings.bind,
                "authMode": self.settings.auth_mode,
                "uptimeMs": self.uptime_ms,
                "configPath": str(self.profile.config_path),
                "configExists": self.config_exists,
                "stateDir": str(self.profile.state_dir),
                "logFile": str(self.log_path),
                "connections": len(self.bus.sessions),
            },
        }

    def _fingerprint(self) -> tuple[Any, ...]:
        channels = self.messaging.channels.connection_states() if self.messaging else ()
        return (self.heartbeat.seconds, channels)

    def health_changed(self) -> None:
        """Broadcast a ``health`` event if what it summarises changed."""
        self._health_changed()

    def _health_changed(self) -> None:
        fingerprint = self._fingerprint()
        if fingerprint != self._health_fingerprint:
            self._health_fingerprint = fingerprint
            self.health_version += 1
            self.bus.broadcast(
                "health", self.health_snapshot(), state_version=self.state_version()
            )

    def presence_changed(self) -> None:
        """Tell every session about a presence change, coalescing bursts.

        The first change after a quiet spell is sent at once; changes that follow
        within the window are merged into one trailing broadcast. The window grows
        with what a broadcast costs (at least 50 ms, else 5x the last broadcast's
        duration), so a storm of connects costs O(clients x rate) rather than
        O(clients^2), however many clients there are.
        """
        if self._presence_flush is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._presence_last + self._presence_window - loop.time()
        if wait <= 0:
            self._broadcast_presence()
        else:
            self._presence_flush = loop.call_later(wait, self._broadcast_presence)

    def _broadcast_presence(self) -> None:
        self._presence_flush = None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.bus.broadcast(
            "presence", {"presence": self.presence.entries()}, state_version=self.state_version()
        )
        self._presence_last = loop.time()
        self._presence_window = max(0.05, 5 * (self._presence_last - started))

    def record_system_event(self, key: str, entry: dict[str, Any]) -> None:
        """Apply ``system-event``: update presence, queue the text, broadcast."""
        self.presence.upsert(key, entry)
        self.queued_system_events.append(str(entry.get("text", ""))[:500])
        del self.queued_system_events[:-20]
        self.presence_changed()

    def set_heartbeats(self, enabled: bool) -> None:
        """Switch heartbeats and tell clients if health changed."""
        self.heartbeat.set_enabled(enabled)
        self._health_changed()

    def _on_heartbeat(self, event: dict[str, Any]) -> None:
        self.bus.broadcast("heartbeat", event, scope="operator.read")

    # ------------------------------------------------------------------ HTTP

    def _sessions_summary(self) -> dict[str, Any]:
        recent = self.messaging.agent.sessions.sessions(5) if self.messaging else []
        model = self.config.agents.defaults.model
        return {"paths": [str(self.profile.state_dir / "gateway.db")] if self.messaging else [],
                "count": len(recent), "recent": recent,
                "defaults": {"model": model,
                             "contextTokens": None, "offline": model.startswith("offline/")}}

    def _channel_summary(self) -> list[str]:
        """One line per channel account, e.g. ``telegram/default: connected (@bot)``."""
        if self.messaging is None:
            return []
        lines = []
        for (name, account), supervisor in self.messaging.channels.supervisors.items():
            snap = supervisor.snapshot()
            state = "connected" if snap["connected"] else (
                f"disconnected ({snap['lastError']})" if snap["lastError"] else "connecting")
            bot = f" (@{snap['bot']})" if snap.get("bot") else ""
            lines.append(f"{name}/{account}: {state}{bot}")
        return lines

    def _json_response(self, status: http.HTTPStatus, body: dict[str, Any]) -> Response:
        headers = Headers(
            [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
             ("Connection", "close")]
        )
        data = encode(body)
        headers["Content-Length"] = str(len(data))
        return Response(status.value, status.phrase, headers, data)

    def process_request(self, connection: WebSocket, request: Request) -> Response | None:
        """Answer plain HTTP routes; let WebSocket upgrades through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        path = request.path.split("?", 1)[0]
        if path in ("/health", "/healthz"):
            return self._json_response(
                http.HTTPStatus.OK, {"ok": True, "status": "live", "uptimeMs": self.uptime_ms}
            )
        if path in ("/ready", "/readyz"):
            channels_ready = self.messaging is None or self.messaging.ready
            if self.ready and not self.draining and channels_ready:
                return self._json_response(http.HTTPStatus.OK, {"ok": True, "status": "ready"})
            status = "draining" if self.draining else "starting"
            body: dict[str, Any] = {"ok": False, "status": status}
            if self.messaging is not None and not channels_ready:
                body["waitingFor"] = [
                    f"{name}/{account}" for (name, account), s
                    in self.messaging.channels.supervisors.items() if not s.started.is_set()]
            return self._json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, body)
        return self._json_response(
            http.HTTPStatus.NOT_FOUND,
            {"ok": False, "error": f"not found: {path[:100]}",
             "hint": "WebSocket clients connect to / ; probes use /healthz and /readyz"},
        )

    # ------------------------------------------------------------------ WebSocket

    async def _act(self, ws: WebSocket, conn: ServerConnection, actions: list[Any],
                   holder: list[Session]) -> bool:
        """Carry out protocol actions; return False once the connection is closing."""
        for action in actions:
            if isinstance(action, Dispatch):  # by far the most common, so first
                context = Context(self, holder[0], action.request.id)
                method = self.dispatcher.methods.get(action.request.method)
                if method is not None and method.concurrent:
                    task = asyncio.get_running_loop().create_task(
                        self._dispatch_aside(ws, context, action.request))
                    self._aside.add(task)
                    task.add_done_callback(self._aside.discard)
                    continue
                response = await self.dispatcher.dispatch(context, action.request)
                self.bus.write(ws, response, holder[0])
            elif isinstance(action, SendFrame):
                self.bus.write(ws, action.data)
            elif isinstance(action, CloseConnection):
                ws_log.debug("closing %s: %s %s", conn.remote_address, action.code, action.reason)
                await ws.close(action.code, action.reason)
                return False
            elif isinstance(action, Accepted):
                holder.append(await self._open_session(ws, conn, action))
        return True

    async def _dispatch_aside(self, ws: WebSocket, context: Context, request: Any) -> None:
        response = await self.dispatcher.dispatch(context, request)
        if ws.state.name == "OPEN":  # the client may have gone; the work is done regardless
            self.bus.write(ws, response, context.session)

    async def _open_session(
        self, ws: WebSocket, conn: ServerConnection, accepted: Accepted
    ) -> Session:
        self._conn_counter += 1
        conn_id = f"{self._conn_counter:x}-{uuid.uuid4().hex[:8]}"
        session = Session(
            conn_id=conn_id,
            ws=ws,
            remote_address=conn.remote_address,
            params=accepted.params,
            scopes=accepted.grant.scopes,
            connected_at_ms=now_ms(),
        )
        ws.protocol.max_message_size = self.max_payload
        client = accepted.params.client
        listed = client.mode not in HIDDEN_MODES
        if listed:
            self.presence.upsert(
                self._presence_key(session),
                {
                    "host": client.display_name,
                    "ip": conn.remote_address,
                    "version": client.version,
                    "platform": client.platform,
                    "deviceFamily": client.device_family,
                    "modelIdentifier": client.model_identifier,
                    "mode": client.mode,
                    "reason": "connect",
                    "instanceId": client.instance_id,
                    "clientId": client.id,
                    "roles": [accepted.grant.role],
                    "scopes": list(accepted.grant.scopes),
                },
            )
        session.extra["listed"] = listed
        hello = {
            "type": "hello-ok",
            "protocol": PROTOCOL_VERSION,
            "server": {
                "version": __version__,
                "connId": conn_id,
                "bootId": self.boot_id,
                "host": socket.gethostname(),
            },
            "features": {"methods": sorted(self.dispatcher.methods), "events": _EVENTS},
            "snapshot": {
                "presence": self.presence.entries(),
                "health": self.health_snapshot(),
                "stateVersion": self.state_version(),
                "uptimeMs": self.uptime_ms,
                "configPath": str(self.profile.config_path),
                "stateDir": str(self.profile.state_dir),
                "authMode": self.settings.auth_mode,
                "sessionDefaults": {
                    "defaultAgentId": DEFAULT_AGENT_ID,
                    "mainKey": "main",
                    "mainSessionKey": "main",
                },
            },
            "auth": accepted.grant.to_wire(),
            "policy": {
                "maxPayload": self.max_payload,
                "maxBufferedBytes": self.bus.max_buffered_bytes,
                "tickIntervalMs": self.tick_interval_ms,
            },
        }
        self.bus.write(ws, encode_response(accepted.request_id, True, hello), session)
        self.bus.add(session)
        ws_log.debug(
            "client connected",
            extra={"fields": {"connId": conn_id, "client": client.id, "mode": client.mode,
                              "remote": conn.remote_address}},
        )
        if listed:
            self.presence_changed()
        return session

    @staticmethod
    def _presence_key(session: Session) -> str:
        return session.params.client.instance_id or session.conn_id

    def _forget(self, session: Session) -> None:
        """A session ended (closed or dropped): update presence once."""
        self.bus.remove(session)
        if session.extra.pop("listed", False) and self.presence.remove(self._presence_key(session)):
            self.presence_changed()

    async def handle(self, ws: WebSocket) -> None:
        """Serve one WebSocket connection from challenge to close."""
        peer = ws.remote_address
        remote = str(peer[0]) if peer else "unknown"
        conn = ServerConnection(
            self.authenticator, remote, nonce=str(uuid.uuid4()), now_ms=now_ms()
        )
        holder: list[Session] = []
        try:
            self.bus.write(ws, conn.challenge())
            try:
                async with asyncio.timeout(self.handshake_timeout_s):
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
                self._forget(holder[0])
                ws_log.debug(
                    "client disconnected",
                    extra={"fields": {"connId": holder[0].conn_id, "code": ws.close_code}},
                )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Server:
        """Bind the port and start timers; raises OSError when the port is taken."""
        hosts = self.settings.hosts
        self.server = await serve(
            self.handle,
            # asyncio's create_server takes a list of hosts; websockets passes it through.
            list(hosts) if len(hosts) > 1 else hosts[0],  # type: ignore[arg-type]
            self.settings.port,
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
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._tick_task = asyncio.get_running_loop().create_task(self._tick(), name="tick")
        self.heartbeat.start()
        self.ready = True
        return self.server

    async def _tick(self) -> None:
        interval = self.tick_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.bus.broadcast("tick", {"ts": now_ms()})

    async def shutdown(self, reason: str, drain_s: float) -> None:
        """Tell every client, close them all with 1012, stop listening; bounded by ``drain_s``."""
        self.draining = True
        self.ready = False
        if self._tick_task is not None:
            self._tick_task.cancel()
        if self._presence_flush is not None:
            self._presence_flush.cancel()
        self.heartbeat.stop()
        server = self.server
        if server is None:
            return
        server.close(close_connections=False)
        sessions = list(self.bus.sessions.values())
        payload = {"reason": reason}
        self.bus.broadcast("shutdown", payload)
        log.info("shutdown event sent", extra={"fields": {"clients": len(sessions)}})
        closers = [
            asyncio.create_task(ws.close(1012, "service restart")) for ws in server.connections
        ]
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
