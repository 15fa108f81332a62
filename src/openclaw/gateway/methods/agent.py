"""``agent``, ``agent.wait`` and ``agent.abort`` (the ``sessions.*`` methods are in
:mod:`openclaw.gateway.methods.sessions`).

``agent`` answers twice on one request id: ``{runId, status: "accepted"}`` at once
(``"in_flight"`` when the key is already running), then the final. A key that has
already ended gets its stored final straight away.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec

from openclaw.agent.runtime import Run
from openclaw.errors import UsageError
from openclaw.gateway.chat import internal_key
from openclaw.gateway.dispatch import READ, WRITE, Context, Dispatcher
from openclaw.protocol.frames import encode_response

__all__ = ["register"]

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class AgentParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``agent`` params (PROTOCOL.md)."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=200_000)]
    idempotency_key: NonEmpty
    to: NonEmpty | None = None
    session_key: NonEmpty | None = None
    session_id: NonEmpty | None = None
    channel: NonEmpty | None = None
    account_id: NonEmpty | None = None
    deliver: bool = False
    timeout: Annotated[int, msgspec.Meta(ge=1, le=86_400)] | None = None
    model: NonEmpty | None = None
    extra_system_prompt: Annotated[str, msgspec.Meta(max_length=100_000)] | None = None


class WaitParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``agent.wait`` params."""

    run_id: NonEmpty
    timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] | None = None


class AbortParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``agent.abort`` params."""

    run_id: NonEmpty


def register(dispatcher: Dispatcher) -> None:
    """Install the agent methods."""

    @dispatcher.register("agent", WRITE, AgentParams, concurrent=True)
    async def agent(ctx: Context, params: AgentParams) -> dict[str, Any]:
        if params.deliver and not params.to:
            raise UsageError("invalid agent params: deliver needs to (the chat to reply in)")
        deliver = ((params.to, params.channel, params.account_id)
                   if params.deliver and params.to else None)
        kind, found = ctx.app.agent.submit(
            params.idempotency_key, params.message,
            session_key=internal_key(params.session_key or params.session_id or "main"),
            timeout_s=params.timeout, model=params.model,
            extra_system=params.extra_system_prompt, deliver=deliver)
        if not isinstance(found, Run):  # already ended: its stored final
            return found
        interim = {"runId": found.run_id, "status": kind, "acceptedAt": found.accepted_at}
        ctx.app.bus.write(ctx.session.ws, encode_response(ctx.request_id, True, interim),
                          ctx.session)
        result: dict[str, Any] = await asyncio.shield(found.final)
        return result

    @dispatcher.register("agent.wait", READ, WaitParams, concurrent=True)
    async def agent_wait(ctx: Context, params: WaitParams) -> dict[str, Any]:
        answer: dict[str, Any] = await ctx.app.agent.wait(params.run_id, params.timeout_ms)
        return answer

    @dispatcher.register("agent.abort", WRITE, AbortParams)
    def agent_abort(ctx: Context, params: AbortParams) -> dict[str, Any]:
        answer: dict[str, Any] = ctx.app.agent.abort(params.run_id)
        return answer
