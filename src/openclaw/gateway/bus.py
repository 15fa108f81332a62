"""Event fan-out to authenticated connections, with per-connection ``seq``.

A broadcast encodes its payload once and writes a frame to each connection
without waiting (no connection can hold up another). After each write the
connection's unsent buffer is checked: a client whose buffer passes
``maxBufferedBytes`` is not reading, so it is dropped with a log line and the
others carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openclaw.gateway.wsconn import WebSocketConnection as WebSocket
from openclaw.logs import BurstLog
from openclaw.protocol.auth import has_scope
from openclaw.protocol.frames import ConnectParams, encode, encode_event

__all__ = ["READ_SCOPE", "EventBus", "Session"]

#: The scope that lets a client read state and receive events.
READ_SCOPE = "operator.read"

log = logging.getLogger("openclaw.gateway.bus")


@dataclass(eq=False)
class Session:
    """One authenticated connection: its socket, identity, scopes and event counter."""

    conn_id: str
    ws: WebSocket
    remote_address: str
    params: ConnectParams
    scopes: tuple[str, ...]
    connected_at_ms: int
    seq: int = 0
    dropped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def may(self, scope: str | None) -> bool:
        """Whether this session holds ``scope`` (``None``: any authenticated session)."""
        return scope is None or has_scope(self.scopes, scope)


class EventBus:
    """The set of open sessions and the one way events reach them."""

    def __init__(self, max_buffered_bytes: int, on_drop: Callable[[Session], None] | None = None,
                 refusals: BurstLog | None = None):
        self.max_buffered_bytes = max_buffered_bytes
        self.refusals = refusals or BurstLog(log)
        self.sessions: dict[str, Session] = {}
        self._on_drop = on_drop

    def add(self, session: Session) -> None:
        """Start delivering events to ``session``."""
        self.sessions[session.conn_id] = session

    def remove(self, session: Session) -> None:
        """Stop delivering events to ``session`` (idempotent)."""
        self.sessions.pop(session.conn_id, None)

    def write(self, ws: WebSocket, frame: bytes, session: Session | None = None) -> bool:
        """Queue one text frame on ``ws`` without waiting; False if the client was dropped.

        Responses and events share this path, so ``maxBufferedBytes`` bounds what a
        client that stops reading can cost, whatever it asked for.
        """
        if session is not None and session.dropped:
            return False
        ws.send_text(frame)
        buffered = ws.buffered
        if buffered > self.max_buffered_bytes:
            if session is not None:
                self.drop(session, buffered)
            else:
                ws.abort()
            return False
        return True

    def send_event(
        self,
        session: Session,
        event: str,
        payload_json: bytes | None,
        state_version: bytes | None = None,
    ) -> None:
        """Write one event to one session, dropping it if its buffer overflows."""
        if session.dropped:
            return
        session.seq += 1
        self.write(session.ws, encode_event(event, payload_json, session.seq, state_version),
                   session)

    def drop(self, session: Session, buffered: int) -> None:
        """Abort a client that stopped reading; everyone else is unaffected."""
        if session.dropped:
            return
        session.dropped = True
        self.refusals.note(
            "slow-client", "dropping slow client: unsent buffer over maxBufferedBytes",
            {"connId": session.conn_id, "client": session.params.client.id,
             "bufferedBytes": buffered, "limit": self.max_buffered_bytes},
        )
        self.remove(session)
        session.ws.abort()
        if self._on_drop is not None:
            self._on_drop(session)

    def broadcast(
        self,
        event: str,
        payload: Any,
        *,
        scope: str | None = None,
        state_version: dict[str, int] | None = None,
        where: Callable[[Session], bool] | None = None,
    ) -> int:
        """Send ``event`` to every session holding ``scope`` (and, with ``where``, for
        which it is true, such as subscribers of one chat session); return how many
        got it. The payload is encoded once, and not at all when nobody gets it."""
        payload_json: bytes | None = None
        version_json = encode(state_version) if state_version is not None else None
        count = 0
        for session in list(self.sessions.values()):
            if session.may(scope) and (where is None or where(session)):
                if count == 0 and payload is not None:
                    payload_json = encode(payload)
                self.send_event(session, event, payload_json, version_json)
                count += 1
        return count

    def send_to_readers(self, event: str, payload: Any) -> None:
        """Broadcast ``event`` to every session that may read (``operator.read``)."""
        self.broadcast(event, payload, scope=READ_SCOPE)
