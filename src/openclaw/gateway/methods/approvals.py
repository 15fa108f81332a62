"""Exec approvals: ``exec.approval.list`` and ``exec.approval.resolve``.

A command the ``exec`` tool may only run with the owner's say-so waits as a pending
request (:class:`~openclaw.agent.exec.ExecApprovals`), announced to clients with
``operator.approvals`` as ``exec.approval.requested``. ``exec.approval.list`` answers
the pending requests in that event's shape (OpenClaw's Control UI backfills its queue
with it); ``exec.approval.resolve`` answers one with ``allow-once``,
``allow-always`` or ``deny``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from openclaw.gateway.dispatch import APPROVALS, Context, Dispatcher

__all__ = ["register"]


class ApprovalListParams(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``exec.approval.list``: filters OpenClaw's clients send are accepted and ignored
    (there is one agent and one host)."""


class ApprovalResolveParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``exec.approval.resolve``: the request's id and the owner's decision."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    decision: Literal["allow-once", "allow-always", "deny"]


def register(dispatcher: Dispatcher) -> None:
    """Install the exec approval methods."""

    @dispatcher.register("exec.approval.list", APPROVALS, ApprovalListParams)
    def exec_approval_list(ctx: Context, params: ApprovalListParams) -> list[dict[str, Any]]:
        return ctx.app.approvals.list()

    @dispatcher.register("exec.approval.resolve", APPROVALS, ApprovalResolveParams)
    def exec_approval_resolve(ctx: Context, params: ApprovalResolveParams) -> dict[str, Any]:
        answer = ctx.app.approvals.resolve(
            params.id, params.decision,
            f"{ctx.session.params.client.id} ({ctx.session.conn_id})")
        return {"ok": True, **answer}
