"""``health`` and ``status``: snapshots of the gateway, built fresh on each call.

The same snapshots feed ``hello-ok`` and the ``health`` event, so every client sees
one shape wherever it looks.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import msgspec

from openclaw import __version__
from openclaw.clock import now_ms
from openclaw.gateway.dispatch import READ, Context, Dispatcher
from openclaw.gateway.rss import rss_bytes

if TYPE_CHECKING:
    from openclaw.gateway.app import App

__all__ = ["health_snapshot", "hello_snapshot", "register", "status_summary"]

DEFAULT_AGENT_ID = "main"


class HealthParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``health`` params: ``probe`` is accepted for OpenClaw clients; every snapshot is
    already live (channel state comes from the supervisors as it is now)."""

    probe: bool = False


class StatusParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``status`` params: ``includeChannelSummary`` false leaves the per-account lines out."""

    include_channel_summary: bool = True


def _sessions_summary(app: App) -> dict[str, Any]:
    recent = app.agent.sessions.sessions(5)
    model = app.config.agents.defaults.model
    return {"paths": [str(app.db_path)], "count": len(recent), "recent": recent,
            "defaults": {"model": model, "contextTokens": None,
                         "offline": model.startswith("offline/")}}


def health_snapshot(app: App) -> dict[str, Any]:
    """The ``health`` payload."""
    started = time.perf_counter()
    sessions: dict[str, Any] = {"path": None, "count": 0, "recent": []}
    channels = app.channels.status_payload()
    snapshot: dict[str, Any] = {
        "ok": True,
        "ts": now_ms(),
        "durationMs": 0,
        "channels": {name: {**summary, "accounts": {
            snap["accountId"]: snap for snap in channels["channelAccounts"][name]}}
            for name, summary in channels["channels"].items()},
        "channelOrder": channels["channelOrder"],
        "channelLabels": channels["channelLabels"],
        "heartbeatSeconds": app.heartbeat.seconds,
        "defaultAgentId": DEFAULT_AGENT_ID,
        "agents": [{"agentId": DEFAULT_AGENT_ID, "isDefault": True,
                    "heartbeat": app.heartbeat.summary(DEFAULT_AGENT_ID),
                    "sessions": sessions}],
        "sessions": sessions,
        "process": {"pid": os.getpid(), "rssBytes": rss_bytes(),
                    "uptimeMs": app.identity.uptime_ms},
        "outbox": app.ledger.counts(),
    }
    snapshot["durationMs"] = round((time.perf_counter() - started) * 1000)
    return snapshot


def status_summary(app: App, include_channels: bool = True) -> dict[str, Any]:
    """The ``status`` payload."""
    settings = app.settings
    return {
        "runtimeVersion": __version__,
        "heartbeat": {"defaultAgentId": DEFAULT_AGENT_ID,
                      "agents": [app.heartbeat.summary(DEFAULT_AGENT_ID)]},
        "channelSummary": app.channels.summary_lines() if include_channels else [],
        "agent": app.agent.describe(),
        "sessions": _sessions_summary(app),
        "queuedSystemEvents": list(app.queued_system_events),
        "gateway": {
            "pid": os.getpid(),
            "bootId": app.identity.boot_id,
            "profile": app.profile.name,
            "port": app.lifecycle.port,
            "bind": settings.bind,
            "authMode": settings.auth_mode,
            "uptimeMs": app.identity.uptime_ms,
            "configPath": str(app.profile.config_path),
            "configExists": app.config_exists,
            "stateDir": str(app.profile.state_dir),
            "logFile": str(app.file_log.current_path),
            "connections": len(app.bus.sessions),
        },
    }


def hello_snapshot(app: App) -> dict[str, Any]:
    """``hello-ok``'s ``snapshot``: presence, health and session defaults."""
    return {
        "presence": app.presence.entries(),
        "health": health_snapshot(app),
        "stateVersion": app.state_version(),
        "uptimeMs": app.identity.uptime_ms,
        "configPath": str(app.profile.config_path),
        "stateDir": str(app.profile.state_dir),
        "authMode": app.settings.auth_mode,
        "sessionDefaults": {"defaultAgentId": DEFAULT_AGENT_ID, "mainKey": "main",
                            "mainSessionKey": "agent:main:main"},
    }


def register(dispatcher: Dispatcher) -> None:
    """Install ``health`` and ``status``."""

    @dispatcher.register("health", READ, HealthParams)
    def health(ctx: Context, params: HealthParams) -> dict[str, Any]:
        return health_snapshot(ctx.app)

    @dispatcher.register("status", READ, StatusParams)
    def status(ctx: Context, params: StatusParams) -> dict[str, Any]:
        return status_summary(ctx.app, include_channels=params.include_channel_summary)
