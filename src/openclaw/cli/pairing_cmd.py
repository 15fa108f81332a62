"""``openclaw pairing list|approve``: who may talk to the assistant (``dmPolicy: pairing``).

An unknown sender gets a one-time code in their chat; the owner approves it here,
through the gateway (``channels.pairing.list`` / ``channels.pairing.approve``).
"""

from __future__ import annotations

from openclaw.cli.common import call_gateway, wants_json
from openclaw.cli.render import emit
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["approve", "list_requests", "usage"]


def usage(ns: argparse.Namespace) -> int:
    """``openclaw pairing`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw pairing needs a subcommand: list, approve")




class PairingList(CommandResult):
    """Pending requests and approved senders."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def to_json(self) -> Any:
        """The ``channels.pairing.list`` answer."""
        return self.answer

    def to_text(self) -> str:
        """One line per pending request, then the approved senders."""
        requests = self.answer.get("requests", [])
        lines = [f"{r['code']}  {r['channel']}/{r['accountId']}  from {r['senderId']}"
                 + (f" ({r['senderName']})" if r.get("senderName") else "")
                 for r in requests] or ["no pending pairing requests"]
        approved = self.answer.get("approved", [])
        if approved:
            lines.append("approved: " + ", ".join(
                f"{a['channel']}/{a['accountId']} {a['senderId']}" for a in approved))
        return "\n".join(lines)


def list_requests(ns: argparse.Namespace) -> int:
    """Pending pairing requests (of one channel when given)."""
    params = {"channel": ns.channel} if ns.channel else {}
    return emit(PairingList(call_gateway(ns, "channels.pairing.list", params)), wants_json(ns))


class Approved(CommandResult):
    """An approved sender."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def to_json(self) -> Any:
        """The ``channels.pairing.approve`` answer."""
        return self.answer

    def to_text(self) -> str:
        """One line."""
        a = self.answer
        return f"approved {a.get('senderId')} on {a.get('channel')}/{a.get('accountId')}"


def approve(ns: argparse.Namespace) -> int:
    """Approve the sender whose pairing code is ``code``."""
    params: dict[str, Any] = {"channel": ns.channel, "code": ns.code}
    if ns.account:
        params["accountId"] = ns.account
    return emit(Approved(call_gateway(ns, "channels.pairing.approve", params)), wants_json(ns))
