"""``openclaw approvals list|approve|deny``: answer the agent's exec approval requests.

A command the ``exec`` tool may only run with the owner's say-so waits in the gateway
(``tools.exec``); these commands list the waiting requests (``exec.approval.list``)
and answer one (``exec.approval.resolve``). ``approve --always`` also allows that
exact command from now on.
"""

from __future__ import annotations

from openclaw.cli.common import call_gateway, wants_json
from openclaw.cli.render import emit
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["approve", "deny", "list_pending", "usage"]


def usage(ns: argparse.Namespace) -> int:
    """``openclaw approvals`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw approvals needs a subcommand: list, approve, deny")




class PendingList(CommandResult):
    """The pending exec approval requests."""

    def __init__(self, pending: list[dict[str, Any]]) -> None:
        self.pending = pending

    def to_json(self) -> Any:
        """The ``exec.approval.list`` answer."""
        return self.pending

    def to_text(self) -> str:
        """One line per request: id, time left, session, command."""
        import time

        if not self.pending:
            return "no pending exec approvals"
        now_ms = int(time.time() * 1000)
        lines = []
        for item in self.pending:
            request = item.get("request", {})
            left = max(0, (int(item.get("expiresAtMs", 0)) - now_ms) // 1000)
            lines.append(f"{item['id']}  {left}s left  {request.get('sessionKey', '?')}  "
                         f"$ {request.get('command', '')}")
        return "\n".join(lines)


class Resolved(CommandResult):
    """An answered request."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def to_json(self) -> Any:
        """The ``exec.approval.resolve`` answer."""
        return self.answer

    def to_text(self) -> str:
        """One line."""
        return f"{self.answer.get('decision')}: {self.answer.get('id')}"


def list_pending(ns: argparse.Namespace) -> int:
    """The pending requests."""
    return emit(PendingList(call_gateway(ns, "exec.approval.list", {})), wants_json(ns))


def approve(ns: argparse.Namespace) -> int:
    """Let the command of request ``id`` run (once, or always with ``--always``)."""
    decision = "allow-always" if ns.always else "allow-once"
    return emit(Resolved(call_gateway(ns, "exec.approval.resolve",
                               {"id": ns.id, "decision": decision})), wants_json(ns))


def deny(ns: argparse.Namespace) -> int:
    """Refuse the command of request ``id`` (the model is told it was denied)."""
    answer = call_gateway(ns, "exec.approval.resolve", {"id": ns.id, "decision": "deny"})
    return emit(Resolved(answer), wants_json(ns))
