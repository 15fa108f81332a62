"""Tools that reach beyond the run: ``message``, ``sessions_list``, ``sessions_history``.

``message`` sends text to a chat through the gateway's send path (the ledger), given
to this layer as a callable so the agent does not depend on the gateway. Its
idempotency key is ``tool:<runId>:<toolCallId>``: a call that is repeated (a run
finished again after a restart) never posts twice.

``sessions_list`` and ``sessions_history`` read the transcripts: the sessions with
their turn counts and last activity, and one session's newest turns.

``sessions_send`` puts a message into another session as an agent turn, through the
runtime's submit (given as a callable: the tools are built before the runtime). Its run
id is ``sessions_send:<runId>:<toolCallId>``, so a repeated call finds the same run
instead of starting a second one. It waits a little for the reply (runs of a session go
one at a time, so a busy session may answer later) and answers with the run id, the
status and, when the run ended in time, the reply. A run started this way cannot send
on again (one hop), so two sessions cannot keep each other busy; nor can a run send
into its own session, whose turn it holds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from openclaw.agent.providers.base import ToolSpec
from openclaw.agent.store import SessionStore
from openclaw.agent.tools import Tool, ToolContext, ToolError
from openclaw.errors import OpenClawError

__all__ = ["SEND_RUN_PREFIX", "SendText", "SubmitTurn", "message_tool", "session_tools",
           "sessions_send_tool"]

#: ``send(key, to, text, channel, account)`` → the send result (the gateway's
#: ``SendService.deliver_text``).
SendText = Callable[[str, str, str, "str | None", "str | None"], Awaitable[dict[str, Any]]]

#: ``submit(run_id, session_key, message)`` → the run's final payload as a future (a
#: new or running run), or the payload itself (a run that has ended already). Raises
#: :class:`~openclaw.errors.OpenClawError` when the run is refused.
SubmitTurn = Callable[[str, str, str], "asyncio.Future[dict[str, Any]] | dict[str, Any]"]

_HISTORY_CHARS: Final = 2000  # of each turn shown by sessions_history
#: The run ids ``sessions_send`` gives the runs it starts.
SEND_RUN_PREFIX: Final = "sessions_send:"
_SEND_WAIT_S: Final = 15.0  # default wait for the reply
_SEND_WAIT_MAX_S: Final = 60.0
_PREFIX: Final = "agent:main:"


def _session_key(value: Any) -> str:
    """The runtime's key for a session named ``agent:main:x`` or ``x``."""
    key = str(value).strip()
    key = key.removeprefix(_PREFIX)
    if not key or key.startswith("agent:"):
        raise ToolError(f"unknown session {value!r}: name it as sessions_list does "
                        f"(\"{_PREFIX}<name>\") or by its name")
    return key


def sessions_send_tool(submit: SubmitTurn) -> Tool:
    """The ``sessions_send`` tool on ``submit`` (see the module docstring)."""

    async def run(arguments: dict[str, Any], context: ToolContext) -> str:
        key = _session_key(arguments["sessionKey"])
        text = str(arguments["message"])
        if not text.strip():
            raise ToolError("message must not be empty")
        if key == context.session_key:
            raise ToolError("a run cannot send into its own session (it holds that "
                            "session's turn); answer directly instead")
        if context.run_id.startswith(SEND_RUN_PREFIX):
            raise ToolError("a turn started by sessions_send cannot send on to another "
                            "session")
        wait_s = arguments.get("waitSeconds")
        wait = _SEND_WAIT_S if wait_s is None else max(0.0, min(float(wait_s),
                                                                 _SEND_WAIT_MAX_S))
        run_id = f"{SEND_RUN_PREFIX}{context.run_id}:{context.call_id}"
        try:
            started = submit(run_id, key, text)
        except OpenClawError as exc:
            raise ToolError(f"the message was not sent: {exc.message}") from None
        answer: dict[str, Any] = {"runId": run_id, "sessionKey": _PREFIX + key}
        if isinstance(started, dict):
            final: dict[str, Any] | None = started
        else:
            try:
                final = await asyncio.wait_for(asyncio.shield(started), wait)
            except TimeoutError:
                final = None
        if final is None:
            answer["status"] = "running"  # accepted; the reply lands in that session
            return json.dumps(answer)
        answer["status"] = final.get("status")
        payloads = (final.get("result") or {}).get("payloads") or []
        if payloads:
            answer["reply"] = payloads[0].get("text", "")
        if final.get("error"):
            answer["error"] = (final["error"] or {}).get("message")
        return json.dumps(answer)

    return Tool(ToolSpec(
        "sessions_send", "Send a message into another session (conversation) as a new "
        "turn there; answers with the run id and, if it finished within waitSeconds, "
        "the reply.", {
            "type": "object",
            "properties": {
                "sessionKey": {"type": "string",
                               "description": "The session, as sessions_list names it"},
                "message": {"type": "string", "description": "The text to send"},
                "waitSeconds": {"type": "number", "minimum": 0,
                                "maximum": _SEND_WAIT_MAX_S,
                                "description": "How long to wait for the reply "
                                               f"(default {_SEND_WAIT_S:g})"},
            },
            "required": ["sessionKey", "message"]}), run)


def message_tool(send: SendText) -> Tool:
    """The ``message`` tool (action ``send``) on ``send``."""

    async def run(arguments: dict[str, Any], context: ToolContext) -> str:
        action = arguments.get("action") or "send"
        if action != "send":
            raise ToolError(f"unsupported action {action!r}: only \"send\"")
        text = str(arguments["message"])
        if not text.strip():
            raise ToolError("message must not be empty")
        key = f"tool:{context.run_id}:{context.call_id}"
        try:
            result = await send(key, str(arguments["target"]), text,
                                arguments.get("channel"), arguments.get("accountId"))
        except OpenClawError as exc:
            raise ToolError(f"the message was not sent: {exc.message}") from None
        return "sent: " + json.dumps(result, sort_keys=True, default=str)

    return Tool(ToolSpec(
        "message", "Send a text message to a chat on a channel (Telegram, WhatsApp, ...).", {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["send"]},
                "target": {"type": "string", "description": "The chat id or number"},
                "message": {"type": "string", "description": "The text to send"},
                "channel": {"type": "string",
                            "description": "Channel (default: the only one configured)"},
                "accountId": {"type": "string"},
            },
            "required": ["target", "message"]}), run)


def session_tools(sessions: SessionStore) -> list[Tool]:
    """``sessions_list`` and ``sessions_history`` on ``sessions``."""

    async def listing(arguments: dict[str, Any], context: ToolContext) -> str:
        limit = int(arguments.get("limit") or 50)
        rows = sessions.sessions(max(1, min(limit, 500)))
        return json.dumps([{"sessionKey": row["key"], "turns": row["turns"],
                            "updatedAt": row["updatedAt"]} for row in rows])

    async def history(arguments: dict[str, Any], context: ToolContext) -> str:
        key = str(arguments["sessionKey"]).removeprefix("agent:main:")
        limit = int(arguments.get("limit") or 20)
        turns = sessions.history(key, max(1, min(limit, 200)))
        if not turns:
            raise ToolError(f"session {key!r} has no turns")
        return json.dumps([{"role": turn["role"], "text": turn["text"][:_HISTORY_CHARS],
                            "ts": turn["ts"]} for turn in turns])

    return [
        Tool(ToolSpec("sessions_list", "List the conversations (sessions) with their turn "
                      "counts and last activity, newest first.", {
                          "type": "object",
                          "properties": {"limit": {"type": "number", "minimum": 1}}}), listing),
        Tool(ToolSpec("sessions_history", "Read the newest turns of one session.", {
            "type": "object",
            "properties": {"sessionKey": {"type": "string"},
                           "limit": {"type": "number", "minimum": 1}},
            "required": ["sessionKey"]}), history),
    ]
