"""``openclaw status``: the overview a user looks at first.

Gateway (reachable? version, uptime, pid, port, auth mode), service (installed and
running, as the service manager says), channels (each account's state), sessions
and model, in one screen or one ``--json`` document. Only read-only, cheap
questions are asked: two RPCs over one connection and the service manager's view
of this profile's service. ``openclaw gateway status`` is the detailed, layered
diagnosis of the service; this is the summary.

Exit status: 0 when the gateway answers, 3 when it does not (LSB "not running",
as ``gateway status``), 77 when it refuses our credentials.
"""

from __future__ import annotations

import time

from openclaw.cli.common import explain, profile_of, resolve_target, timeout_s, wants_json
from openclaw.cli.render import emit, paint, use_color
from openclaw.errors import AuthError, ExitCode, GatewayUnreachable, RequestError
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from openclaw.paths import Profile

__all__ = ["Overview", "overview"]


class Overview(CommandResult):
    """What ``openclaw status`` found; every part is its own fact.

    ``gateway`` always has ``reachable`` and ``url``; with a reachable gateway also
    ``version``, ``pid``, ``port``, ``uptimeMs``, ``authMode``, ``bind``, ``profile``;
    otherwise ``error`` (``{kind, message, hint}``). ``channels``, ``sessions`` and
    ``model`` are ``None`` when the gateway could not be asked.
    """

    def __init__(self, gateway: dict[str, Any], service: dict[str, Any],
                 channels: list[dict[str, Any]] | None, sessions: dict[str, Any] | None,
                 model: dict[str, Any] | None) -> None:
        self.gateway = gateway
        self.service = service
        self.channels = channels
        self.sessions = sessions
        self.model = model
        error = gateway.get("error") or {}
        if gateway.get("reachable"):
            self.exit_code = ExitCode.OK
        elif error.get("kind") == "auth":
            self.exit_code = ExitCode.AUTH
        else:
            self.exit_code = ExitCode.NOT_RUNNING

    def to_json(self) -> Any:
        """``{ok, gateway, service, channels, sessions, model}``."""
        return {"ok": bool(self.gateway.get("reachable")), "gateway": self.gateway,
                "service": self.service, "channels": self.channels,
                "sessions": self.sessions, "model": self.model}

    def to_text(self) -> str:
        """One line per part; channel accounts each on their own line."""
        color = use_color()
        lines = [_gateway_line(self.gateway, color), _service_line(self.service, color)]
        if self.channels is None:
            lines.append("Channels: unknown (the gateway did not answer)")
        elif not self.channels:
            lines.append("Channels: none configured")
        else:
            lines.append("Channels:")
            for account in self.channels:
                lines.append(f"  {account['channel']}/{account['accountId']}: "
                             f"{_account_state(account, color)}")
        lines.append(_sessions_line(self.sessions))
        lines.append(_model_line(self.model, color))
        return "\n".join(lines)


def _ago(ms: Any) -> str:
    from openclaw.cli.gateway_cmd import duration

    if not isinstance(ms, int) or isinstance(ms, bool):
        return "?"
    return duration(max(0, int(time.time() * 1000) - ms)) + " ago"


def _gateway_line(gateway: dict[str, Any], color: bool) -> str:
    if not gateway.get("reachable"):
        error = gateway.get("error") or {}
        word = "refused our credentials" if error.get("kind") == "auth" else "not reachable"
        line = f"Gateway:  {paint(word, 'red', color)}: {error.get('message')}"
        if error.get("hint"):
            line += f"\n          hint: {error['hint']}"
        return line
    from openclaw.cli.gateway_cmd import duration

    return (f"Gateway:  {paint('reachable', 'green', color)} at {gateway['url']} "
            f"(version {gateway.get('version')}, pid {gateway.get('pid')}, up "
            f"{duration(int(gateway.get('uptimeMs') or 0))}, port {gateway.get('port')}, "
            f"auth {gateway.get('authMode')})")


def _service_line(service: dict[str, Any], color: bool) -> str:
    if not service.get("available"):
        return f"Service:  no service manager ({service.get('reason')})"
    if not service.get("installed"):
        return (f"Service:  {service.get('name')} not installed "
                "(`openclaw gateway install` runs the gateway as a service)")
    state = str(service.get("state"))
    tone = {"running": "green", "failed": "red", "crash-looping": "red"}.get(state, "yellow")
    pid = f", pid {service['pid']}" if service.get("pid") else ""
    return (f"Service:  {service.get('name')} installed, "
            f"{paint(state, tone, color)}{pid} ({service.get('kind')})")


def _account_state(account: dict[str, Any], color: bool) -> str:
    if account.get("connected"):
        bot = f" (@{account['bot']})" if account.get("bot") else ""
        return paint("connected", "green", color) + bot
    error = f" ({account['lastError']})" if account.get("lastError") else ""
    word = "connecting" if account.get("running") and not error else "not connected"
    return paint(word, "yellow", color) + error


def _sessions_line(sessions: dict[str, Any] | None) -> str:
    if sessions is None:
        return "Sessions: unknown (the gateway did not answer)"
    recent = sessions.get("recent") or []
    if not recent:
        return "Sessions: none yet"
    shown = ", ".join(f"{item.get('key')} ({_ago(item.get('updatedAt'))})" for item in recent)
    return f"Sessions: {sessions.get('count')} recent: {shown}"


def _model_line(model: dict[str, Any] | None, color: bool) -> str:
    if model is None:
        return "Model:    unknown (the gateway did not answer)"
    if model.get("error"):
        return f"Model:    {model.get('model')}: {paint(str(model['error']), 'red', color)}"
    if model.get("offline"):
        return (f"Model:    {model.get('model')} (the built-in offline model: set "
                "agents.defaults.model for a real one)")
    return f"Model:    {model.get('model')} (provider {model.get('provider')})"


def _service(profile: Profile) -> dict[str, Any]:
    """The service manager's view of this profile's service, read-only."""
    from openclaw.errors import OpenClawError
    from openclaw.service.backend import select_backend

    try:
        backend = select_backend(profile)
        reason = backend.availability()
    except OpenClawError as exc:
        return {"available": False, "reason": exc.message}
    if reason:
        return {"available": False, "reason": reason, "kind": backend.kind}
    facts: dict[str, Any] = {"available": True, "kind": backend.kind, "name": backend.name}
    try:
        installed = backend.read_installed()
        facts["installed"] = installed is not None
        if installed is not None:
            runtime = backend.runtime()
            facts.update(state=runtime.state, pid=runtime.pid, enabled=runtime.enabled)
    except OpenClawError as exc:
        facts.update(available=False, reason=exc.message)
    return facts


def _ask_gateway(ns: argparse.Namespace) -> tuple[dict[str, Any], Any, Any]:
    """``(gateway facts, status payload, channels.status payload)``."""
    from openclaw.client.sync import GatewayClient

    target = resolve_target(ns)
    gateway: dict[str, Any] = {"reachable": False, "url": target.url}
    timeout = timeout_s(ns)
    try:
        with GatewayClient(target.url, token=target.token, password=target.password,
                           timeout=timeout) as client:
            status = client.call("status", {}, timeout=timeout)
            channels = client.call("channels.status", {}, timeout=timeout)
    except (AuthError, GatewayUnreachable, RequestError) as exc:
        explain(exc, ns)
        kind = ("auth" if isinstance(exc, AuthError)
                else "unreachable" if isinstance(exc, GatewayUnreachable) else "rpc")
        gateway["error"] = {"kind": kind, "message": exc.message, "hint": exc.hint}
        return gateway, None, None
    info = (status or {}).get("gateway") or {}
    gateway.update(reachable=True, version=status.get("runtimeVersion"), pid=info.get("pid"),
                   port=info.get("port"), uptimeMs=info.get("uptimeMs"),
                   authMode=info.get("authMode"), bind=info.get("bind"),
                   profile=info.get("profile"))
    return gateway, status, channels


def _accounts(channels: Any) -> list[dict[str, Any]]:
    accounts = []
    for name in (channels or {}).get("channelOrder") or []:
        for account in ((channels.get("channelAccounts") or {}).get(name) or []):
            accounts.append({
                "channel": name, "accountId": account.get("accountId"),
                "connected": bool(account.get("connected")),
                "running": bool(account.get("running")), "bot": account.get("bot"),
                "lastError": account.get("lastError"),
                "lastConnectedAt": account.get("lastConnectedAt"),
            })
    return accounts


def _model(status: Any) -> dict[str, Any]:
    agent = (status or {}).get("agent") or {}
    provider = agent.get("provider") or {}
    model: dict[str, Any] = {"model": agent.get("model"), "offline": bool(agent.get("offline")),
                             "provider": provider.get("id")}
    if agent.get("error"):
        model["error"] = agent["error"]
    return model


def overview(ns: argparse.Namespace) -> int:
    """Print the overview; exit 0 when the gateway answers, 3 when not, 77 when refused."""
    gateway, status, channels = _ask_gateway(ns)
    service = _service(profile_of(ns))
    if status is None:
        result = Overview(gateway, service, None, None, None)
    else:
        sessions = status.get("sessions") or {}
        result = Overview(
            gateway, service, _accounts(channels),
            {"count": sessions.get("count"), "recent": sessions.get("recent") or []},
            _model(status),
        )
    return emit(result, wants_json(ns))
