"""Presence and heartbeat methods: ``system-presence``, ``system-event``,
``last-heartbeat``, ``set-heartbeats``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from openclaw.gateway.dispatch import READ, WRITE, Context, Dispatcher

__all__ = ["register"]

Text = Annotated[str, msgspec.Meta(max_length=512)]
#: A presence line is a status line; longer texts are cut so that broadcasting the
#: presence list (up to 200 entries) stays cheap.
PRESENCE_TEXT_MAX = 1000


class SystemEventParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``system-event`` params: a line of text plus presence fields."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1_000_000)]
    session_key: Text | None = None
    wake: bool | None = None
    device_id: Text | None = None
    instance_id: Text | None = None
    host: Text | None = None
    ip: Text | None = None
    mode: Text | None = None
    version: Text | None = None
    platform: Text | None = None
    device_family: Text | None = None
    model_identifier: Text | None = None
    last_input_seconds: Annotated[int, msgspec.Meta(ge=0)] | None = None
    reason: Text | None = None
    roles: list[Text] | None = None
    scopes: list[Text] | None = None
    tags: list[Text] | None = None


class SetHeartbeatsParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``set-heartbeats`` params."""

    enabled: bool


_PRESENCE_FIELDS = (
    "device_id", "instance_id", "host", "ip", "mode", "version", "platform", "device_family",
    "model_identifier", "last_input_seconds", "reason", "roles", "scopes", "tags",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def register(dispatcher: Dispatcher) -> None:
    """Install the presence and heartbeat methods."""

    @dispatcher.register("system-presence", READ)
    def system_presence(ctx: Context, params: object) -> list[dict[str, Any]]:
        return ctx.app.presence.entries()

    @dispatcher.register("system-event", WRITE, SystemEventParams)
    def system_event(ctx: Context, params: SystemEventParams) -> dict[str, Any]:
        entry = {_camel(f): getattr(params, f) for f in _PRESENCE_FIELDS}
        entry["text"] = params.text[:PRESENCE_TEXT_MAX]
        entry.setdefault("reason", None)
        if entry["reason"] is None:
            entry["reason"] = "event"
        key = params.instance_id or params.device_id or params.host or ctx.session.conn_id
        ctx.app.presence.upsert(key, entry)
        queued = ctx.app.queued_system_events
        queued.append(params.text[:500])
        del queued[:-20]
        ctx.app.presence.changed()
        return {"ok": True}

    @dispatcher.register("last-heartbeat", READ)
    def last_heartbeat(ctx: Context, params: object) -> dict[str, Any] | None:
        return ctx.app.heartbeat.last

    @dispatcher.register("set-heartbeats", WRITE, SetHeartbeatsParams)
    def set_heartbeats(ctx: Context, params: SetHeartbeatsParams) -> dict[str, Any]:
        ctx.app.heartbeat.set_enabled(params.enabled)
        ctx.app.health_changed()
        return {"ok": True, "enabled": params.enabled}
