"""Connected clients: a session opened after the handshake, and forgotten at close.

Opening a session lists the client in presence (unless it is a one-shot ``cli`` or
``probe`` client), answers ``connect`` with ``hello-ok`` and starts delivering
events to it. Forgetting it (closed, or dropped for not reading) stops the events
and updates presence once.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from typing import TYPE_CHECKING

from openclaw import __version__
from openclaw.clock import now_ms
from openclaw.gateway.bus import EventBus, Session
from openclaw.gateway.presence import HIDDEN_MODES, Presence
from openclaw.protocol.connection import Accepted
from openclaw.protocol.frames import encode_response
from openclaw.protocol.hello import Policy, ServerInfo, build_hello

if TYPE_CHECKING:
    from openclaw.gateway.app import App
    from openclaw.gateway.wsconn import WebSocketConnection as WebSocket

__all__ = ["forget", "open_session"]

log = logging.getLogger("openclaw.gateway.ws")
_counter = itertools.count(1)
_LISTED = "listed"


def _presence_key(session: Session) -> str:
    return session.params.client.instance_id or session.conn_id


def open_session(app: App, ws: WebSocket, remote: str, accepted: Accepted) -> Session:
    """Register an authenticated client and answer its ``connect`` with ``hello-ok``."""
    from openclaw.gateway.methods.health import hello_snapshot

    conn_id = f"{next(_counter):x}-{uuid.uuid4().hex[:8]}"
    session = Session(conn_id=conn_id, ws=ws, remote_address=remote, params=accepted.params,
                      scopes=accepted.grant.scopes, connected_at_ms=now_ms())
    ws.max_message_size = app.config.gateway.max_payload
    client = accepted.params.client
    listed = client.mode not in HIDDEN_MODES
    if listed:
        app.presence.upsert(_presence_key(session), {
            "host": client.display_name, "ip": remote, "version": client.version,
            "platform": client.platform, "deviceFamily": client.device_family,
            "modelIdentifier": client.model_identifier, "mode": client.mode,
            "reason": "connect", "instanceId": client.instance_id, "clientId": client.id,
            "roles": [accepted.grant.role], "scopes": list(accepted.grant.scopes),
        })
    session.extra[_LISTED] = listed
    hello = build_hello(
        ServerInfo(__version__, conn_id, app.identity.boot_id, app.identity.host),
        sorted(app.dispatcher.methods), app.events, hello_snapshot(app),
        accepted.grant.to_wire(),
        Policy(app.config.gateway.max_payload, app.bus.max_buffered_bytes,
               app.config.gateway.tick_interval_ms))
    app.bus.write(ws, encode_response(accepted.request_id, True, hello), session)
    app.bus.add(session)
    log.debug("client connected", extra={"fields": {
        "connId": conn_id, "client": client.id, "mode": client.mode, "remote": remote}})
    if listed:
        app.presence.changed()
    return session


def forget(bus: EventBus, presence: Presence, session: Session) -> None:
    """A session ended (closed or dropped): stop its events, update presence once."""
    bus.remove(session)
    if session.extra.pop(_LISTED, False) and presence.remove(_presence_key(session)):
        presence.changed()
