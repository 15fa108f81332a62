"""``openclaw channels list|status|login|logout``: channel accounts, through the gateway.

Every registered channel is listed, configured or not, with each configured account
and its state. ``login`` runs the linking inside the gateway (``web.login.start`` /
``web.login.wait``): this command only shows the QR code in the terminal, redrawn
each time WhatsApp rotates it, or the pairing code with ``--phone``, and returns
once the phone has linked the account. The CLI never talks to a chat network itself.
"""

from __future__ import annotations

import sys

from openclaw.cli.common import call_gateway, resolve_target, timeout_s, wants_json
from openclaw.cli.render import emit
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["list_accounts", "login", "logout", "status", "usage"]

_LOGIN_BUDGET_S = 600.0  # the user has this long to scan a code
_WAIT_ROUND_MS = 30_000


def usage(ns: argparse.Namespace) -> int:
    """``openclaw channels`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw channels needs a subcommand: list, status, login, logout")




def _account_line(name: str, snap: dict[str, Any]) -> str:
    state = snap.get("state") or ("connected" if snap.get("connected") else "connecting")
    line = f"{name}/{snap.get('accountId')}: {state}"
    if state == "logged-out" and snap.get("lastError"):
        line = f"{name}/{snap.get('accountId')}: {snap['lastError']}"
    elif not snap.get("connected") and snap.get("lastError"):
        line += f" ({snap['lastError']})"
    extras = []
    if snap.get("bot"):
        extras.append(f"@{snap['bot']}")
    if snap.get("self"):
        extras.append(str(snap["self"]))
    if snap.get("dmPolicy"):
        extras.append(f"dmPolicy {snap['dmPolicy']}")
    if snap.get("reconnectAttempts"):
        extras.append(f"{snap['reconnectAttempts']} reconnects")
    if snap.get("nextRetryAt") and not snap.get("connected"):
        extras.append(f"next try at {snap['nextRetryAt']}")
    return line + (f" [{', '.join(extras)}]" if extras else "")


class ChannelsView(CommandResult):
    """``channels list`` / ``channels status``: every registered channel and its accounts."""

    def __init__(self, payload: dict[str, Any], detailed: bool) -> None:
        self.payload = payload
        self.detailed = detailed

    def to_json(self) -> Any:
        """The ``channels.status`` answer plus ``registered`` (every channel's name)."""
        return self.payload

    def to_text(self) -> str:
        """One line per channel, then one per account."""
        lines = []
        accounts = self.payload.get("channelAccounts", {})
        for entry in self.payload.get("registered", []):
            name = entry["name"]
            snaps = accounts.get(name, [])
            login = entry["capabilities"].get("login")
            how = f", linked by {login} login" if login else ""
            if not snaps:
                lines.append(f"{entry['label']} ({name}): not configured{how}")
                continue
            lines.append(f"{entry['label']} ({name}): {len(snaps)} account(s){how}")
            for snap in snaps:
                lines.append("  " + (_account_line(name, snap) if self.detailed
                                     else f"{name}/{snap.get('accountId')}"))
        return "\n".join(lines)


def _view(ns: argparse.Namespace, detailed: bool) -> int:
    from openclaw.channels.registry import all_specs

    payload: dict[str, Any] = dict(call_gateway(ns, "channels.status", {}))
    payload["registered"] = [{"name": spec.name, "label": spec.label,
                              "capabilities": spec.capabilities.to_wire()}
                             for spec in all_specs()]
    if ns.channel:
        payload["registered"] = [e for e in payload["registered"] if e["name"] == ns.channel]
    return emit(ChannelsView(payload, detailed), wants_json(ns))


def list_accounts(ns: argparse.Namespace) -> int:
    """Every registered channel and its configured accounts."""
    return _view(ns, detailed=False)


def status(ns: argparse.Namespace) -> int:
    """Every account's state: connected, connecting, logged-out or unreachable."""
    return _view(ns, detailed=True)


class LoginResult(CommandResult):
    """The end of a login: linked (exit 0)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def to_json(self) -> Any:
        """The last ``web.login.*`` answer (without the QR image)."""
        return {key: value for key, value in self.answer.items()
                if key not in ("qrDataUrl", "qrText")}

    def to_text(self) -> str:
        """``whatsapp/default: linked as +…``."""
        return (f"{self.answer.get('channel')}/{self.answer.get('accountId')}: "
                f"{self.answer.get('message') or 'linked'}")


def _show(answer: dict[str, Any], quiet: bool) -> None:
    if quiet:
        return
    out = sys.stdout
    if answer.get("pairingCode"):
        out.write(f"\nPairing code: {answer['pairingCode']}\n{answer.get('message', '')}\n")
    elif answer.get("qrText"):
        if out.isatty():
            out.write("\x1b[2J\x1b[H")  # redraw in place when the code rotates
        out.write(f"{answer['qrText']}\n\n{answer.get('message', '')}\n")
    out.flush()


def login(ns: argparse.Namespace) -> int:
    """Link an account inside the gateway; show each QR code (or the pairing code)."""
    import time

    from openclaw.client.sync import GatewayClient
    from openclaw.errors import OpenClawError

    target = resolve_target(ns)
    quiet = wants_json(ns)
    params: dict[str, Any] = {"channel": ns.channel, "force": bool(ns.force)}
    if ns.account:
        params["accountId"] = ns.account
    if ns.phone:
        params["phoneNumber"] = ns.phone
    deadline = time.monotonic() + _LOGIN_BUDGET_S
    with GatewayClient(target.url, token=target.token, password=target.password,
                       timeout=timeout_s(ns)) as client:
        answer = client.call("web.login.start", params, timeout=60)
        _show(answer, quiet)
        current = answer.get("qrDataUrl")
        while not answer.get("connected"):
            if time.monotonic() > deadline:
                raise OpenClawError("the account was not linked in time; run login again")
            wait: dict[str, Any] = {"channel": answer.get("channel"),
                                    "accountId": answer.get("accountId"),
                                    "sessionKey": answer.get("sessionKey"),
                                    "timeoutMs": _WAIT_ROUND_MS}
            if current:
                wait["currentQrDataUrl"] = current
            answer = {**answer, **client.call("web.login.wait", wait,
                                              timeout=_WAIT_ROUND_MS / 1000 + 10)}
            if answer.get("qrDataUrl") and answer.get("qrDataUrl") != current:
                current = answer["qrDataUrl"]
                _show(answer, quiet)
    return emit(LoginResult(answer), quiet)


class LogoutResult(CommandResult):
    """``channels logout``: whether credentials were removed."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def to_json(self) -> Any:
        """The ``channels.logout`` answer."""
        return self.answer

    def to_text(self) -> str:
        """One line."""
        where = f"{self.answer.get('channel')}/{self.answer.get('accountId')}"
        return (f"{where}: logged out; its credentials are deleted" if self.answer.get("cleared")
                else f"{where}: was not linked")


def logout(ns: argparse.Namespace) -> int:
    """Unlink an account (inside the gateway) and delete its credentials."""
    params: dict[str, Any] = {"channel": ns.channel}
    if ns.account:
        params["accountId"] = ns.account
    return emit(LogoutResult(call_gateway(ns, "channels.logout", params)), wants_json(ns))
