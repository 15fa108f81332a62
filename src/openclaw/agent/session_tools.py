"""Tools that reach beyond the run: ``message``, ``sessions_list``, ``sessions_history``.

``message`` sends text to a chat through the gateway's send path (the ledger), given
to this layer as a callable so the agent does not depend on the gateway. Its
idempotency key is ``tool:<runId>:<toolCallId>``: a call that is repeated (a run
finished again after a restart) never posts twice.

``sessions_list`` and ``sessions_history`` read the transcripts: the sessions with
their turn counts and last activity, and one session's newest turns.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from openclaw.agent.providers.base import ToolSpec
from openclaw.agent.store import SessionStore
from openclaw.agent.tools import Tool, ToolContext, ToolError
from openclaw.errors import OpenClawError

__all__ = ["SendText", "message_tool", "session_tools"]

#: ``send(key, to, text, channel, account)`` → the send result (the gateway's
#: ``SendService.deliver_text``).
SendText = Callable[[str, str, str, "str | None", "str | None"], Awaitable[dict[str, Any]]]

_HISTORY_CHARS: Final = 2000  # of each turn shown by sessions_history


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
