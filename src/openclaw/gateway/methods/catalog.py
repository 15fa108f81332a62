"""What this gateway has, for clients that draw it: ``agents.list``,
``agent.identity.get``, ``models.list``, ``models.authStatus``, ``system.info``, and
the truthful empty answers to ``question.list`` and ``users.prefs.get``.

OpenClaw's Control UI asks for the agent roster and identity on load and asks again
at once when they fail, so they must answer; there is one built-in agent, ``main``.
Models are the default model, the offline one and what ``models.providers`` names;
provider rows say where a key comes from (``config``, ``env:NAME``), never the key.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from openclaw import __version__
from openclaw.clock import now_ms
from openclaw.errors import UsageError
from openclaw.gateway.dispatch import READ, Context, Dispatcher
from openclaw.gateway.rss import rss_bytes
from openclaw.protocol.errors import InvalidRequest

if TYPE_CHECKING:
    from openclaw.gateway.app import App

__all__ = ["register"]

DEFAULT_AGENT_ID = "main"
#: The display name of the built-in agent (OpenClaw's default assistant name).
DEFAULT_AGENT_NAME = "Assistant"
OFFLINE_MODEL = "offline/echo"

Text = Annotated[str, msgspec.Meta(max_length=512)]


class IdentityParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``agent.identity.get``: an agent id, or a session key naming one."""

    agent_id: Text | None = None
    session_key: Text | None = None


class ModelsListParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``models.list``: OpenClaw's clients send these selectors; ``provider`` filters,
    the others are accepted (this catalog is small and always current)."""

    agent_id: Text | None = None
    session_key: Text | None = None
    auth_profile_id: Text | None = None
    provider: Text | None = None
    include_details: bool = False
    include_provider_capabilities: bool = False
    include_default_models: bool = False
    prepared_only: bool = False
    refresh: bool = False
    view: Text | None = None


class AuthStatusParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``models.authStatus``: ``refresh`` is accepted; key sources are read live."""

    refresh: bool = False
    agent_id: Text | None = None


class ApprovalListParams(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``question.list``: any filter is accepted; there is never anything to list."""


class PrefsGetParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``users.prefs.get``: the preference keys asked for."""

    keys: list[Text] | None = None


def _agent_for(params: IdentityParams) -> str:
    agent = params.agent_id or DEFAULT_AGENT_ID
    key = params.session_key or ""
    if key.startswith("agent:"):
        parts = key.split(":")
        if len(parts) < 3 or not parts[1]:
            raise InvalidRequest(
                f'invalid agent.identity.get params: malformed session key "{key}"')
        if params.agent_id and params.agent_id != parts[1]:
            raise InvalidRequest(f'session key "{key}" belongs to agent "{parts[1]}", '
                                 f'not "{params.agent_id}"')
        agent = parts[1]
    if agent != DEFAULT_AGENT_ID:
        raise InvalidRequest(f'unknown agent id "{agent}" (this gateway has one agent, '
                             f'"{DEFAULT_AGENT_ID}")')
    return agent


def _provider_rows(app: App) -> list[dict[str, Any]]:
    """Every provider worth showing: the offline one, the default model's, the built-in
    ones and the configured ones, each with where its key comes from."""
    from openclaw.agent.providers.registry import BUILTIN_PROVIDERS, parse_model_ref

    configured = app.config.models.providers
    default_provider = parse_model_ref(app.config.agents.defaults.model)[0]
    ids = list(dict.fromkeys([*BUILTIN_PROVIDERS, default_provider, *configured]))
    rows = []
    for provider_id in ids:
        builtin = BUILTIN_PROVIDERS.get(provider_id)
        row: dict[str, Any] = {"id": provider_id, "builtin": builtin is not None,
                               "configured": provider_id in configured}
        try:
            provider, _ = app.agent.provider_for(f"{provider_id}/-")
        except UsageError as exc:
            row.update(available=False, error=exc.message, keySource="none",
                       keyRequired=bool(builtin and builtin.key_required))
        else:
            described = provider.describe()
            row.update(available=True, api=described.get("api"),
                       keySource=described.get("keySource", "none"),
                       keyRequired=bool(builtin and builtin.key_required),
                       offline=provider.api == "offline")
        rows.append(row)
    return rows


def _providers_in_use(app: App) -> set[str]:
    """Providers something would call: the default model's, every configured one and
    every session's model override."""
    from openclaw.agent.providers.registry import parse_model_ref

    refs = [app.config.agents.defaults.model,
            *(meta.model for meta in app.chat.meta.all() if meta.model)]
    used = set(app.config.models.providers)
    for ref in refs:
        try:
            used.add(parse_model_ref(ref)[0])
        except ValueError:
            continue
    return used


def _model_row(ref: str, providers: dict[str, dict[str, Any]], default: str) -> dict[str, Any]:
    provider_id, _, model = ref.partition("/")
    provider = providers.get(provider_id, {})
    offline = bool(provider.get("offline"))
    tags = [tag for tag, on in (("default", ref == default), ("offline", offline)) if on]
    row: dict[str, Any] = {"id": model, "name": model, "provider": provider_id, "ref": ref,
                           "default": ref == default, "offline": offline,
                           "available": bool(provider.get("available")), "tags": tags,
                           "local": offline}
    if not row["available"]:
        row["unavailableReason"] = "missing-auth"
    return row


def _system_info(app: App) -> dict[str, Any]:
    uname = platform.uname()
    info: dict[str, Any] = {
        "version": __version__,
        "machineName": uname.node,
        "hostname": socket.gethostname(),
        "platform": sys.platform,
        "release": uname.release,
        "arch": uname.machine,
        "osLabel": f"{uname.system} {uname.release}",
        "runtime": "python",
        "pythonVersion": platform.python_version(),
        "pid": os.getpid(),
        "processInstanceId": app.identity.boot_id,
        "uptimeMs": app.identity.uptime_ms,
        "startedAtMs": app.identity.started_at_ms,
        "port": app.lifecycle.port,
        "profile": app.profile.name,
        "stateDir": str(app.profile.state_dir),
        "configPath": str(app.profile.config_path),
        "logFile": str(app.file_log.current_path),
        "cpuCount": os.cpu_count() or 1,
        "processMemory": {"rssBytes": rss_bytes()},
    }
    if hasattr(os, "getloadavg"):
        info["loadAverage"] = list(os.getloadavg())
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        info["memoryTotalBytes"] = os.sysconf("SC_PHYS_PAGES") * page
        info["memoryFreeBytes"] = os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        pass  # not every platform names these; the fields are then left out
    try:
        usage = shutil.disk_usage(app.profile.state_dir)
    except OSError:
        pass
    else:
        info.update(diskPath=str(app.profile.state_dir), diskTotalBytes=usage.total,
                    diskAvailableBytes=usage.free)
    return info


def register(dispatcher: Dispatcher) -> None:
    """Install the catalog methods."""

    @dispatcher.register("agents.list", READ)
    def agents_list(ctx: Context, params: object) -> dict[str, Any]:
        return {
            "defaultId": DEFAULT_AGENT_ID,
            "mainKey": "main",
            "scope": "per-sender",
            "agents": [{
                "id": DEFAULT_AGENT_ID,
                "name": DEFAULT_AGENT_NAME,
                "kind": "agent",
                "identity": {"name": DEFAULT_AGENT_NAME},
                "model": {"primary": ctx.app.config.agents.defaults.model},
            }],
        }

    @dispatcher.register("agent.identity.get", READ, IdentityParams)
    def agent_identity(ctx: Context, params: IdentityParams) -> dict[str, Any]:
        return {"agentId": _agent_for(params), "name": DEFAULT_AGENT_NAME,
                "nameSource": "default", "avatarStatus": "none",
                "avatarReason": "no avatar is configured"}

    @dispatcher.register("models.list", READ, ModelsListParams)
    def models_list(ctx: Context, params: ModelsListParams) -> dict[str, Any]:
        providers = {row["id"]: row for row in _provider_rows(ctx.app)}
        default = ctx.app.config.agents.defaults.model
        refs = list(dict.fromkeys([default, OFFLINE_MODEL]))
        models = [_model_row(ref, providers, default) for ref in refs]
        if params.provider is not None:
            if params.provider not in providers:
                raise InvalidRequest(f'unknown provider "{params.provider}"')
            models = [m for m in models if m["provider"] == params.provider]
        return {"models": models, "providers": list(providers.values()),
                "defaultModel": default}

    @dispatcher.register("models.authStatus", READ, AuthStatusParams)
    def models_auth_status(ctx: Context, params: AuthStatusParams) -> dict[str, Any]:
        rows = []
        used = _providers_in_use(ctx.app)
        for row in _provider_rows(ctx.app):
            if row.get("offline"):
                continue
            source = str(row["keySource"])
            status = "static" if source != "none" else "missing" if row["keyRequired"] else "ok"
            if status == "missing" and row["id"] not in used:
                # OpenClaw's Control UI raises an "Auth expired" inbox item for every
                # "missing" row; a built-in provider nothing uses needs no attention
                continue
            entry: dict[str, Any] = {"provider": row["id"], "displayName": row["id"],
                                     "status": status, "profiles": []}
            if source != "none":
                env = source.removeprefix("env:")
                entry["apiKey"] = ({"source": "env", "envVar": env} if source.startswith("env:")
                                   else {"source": "config"})
            rows.append(entry)
        return {"ts": now_ms(), "providers": rows}

    @dispatcher.register("system.info", READ)
    def system_info(ctx: Context, params: object) -> dict[str, Any]:
        return _system_info(ctx.app)

    @dispatcher.register("question.list", READ, ApprovalListParams)
    def question_list(ctx: Context, params: ApprovalListParams) -> dict[str, Any]:
        # the agent has no tool that asks the user a question, so none is ever pending;
        # OpenClaw's Control UI asks again on every session event while this fails
        return {"questions": []}

    @dispatcher.register("users.prefs.get", READ, PrefsGetParams)
    def users_prefs_get(ctx: Context, params: PrefsGetParams) -> dict[str, Any]:
        return {"status": "no_durable_identity"}  # no user accounts: clients keep prefs
