"""The ``cron`` tool: the agent adds, lists and removes scheduled jobs (reminders).

The scheduler lives in the gateway; the agent reaches it only through the small
:class:`CronJobs` interface passed in, so the agent layer never imports the gateway.
A job the agent adds from a chat on a channel (its session is
``<channel>:<account>:<chat>``) is delivered back to that chat; one added from the
main session (the Control UI, ``openclaw agent``) runs on the main session, so its
reply appears there. ``in`` ("2m", "90s", "1h") is turned into an absolute time
here, so a reminder fires on time across a restart.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Protocol

import msgspec

from openclaw.agent.providers.base import ToolSpec
from openclaw.agent.tools import Tool, ToolContext, ToolError
from openclaw.config import CronJobConfig, parse_duration_ms
from openclaw.errors import OpenClawError

__all__ = ["CronJobs", "cron_tool"]

_CHANNEL_SESSION = re.compile(r"^(?P<channel>[a-z][a-z0-9_-]*):(?P<account>[^:]+):(?P<chat>.+)$")


class CronJobs(Protocol):
    """What the tool needs of the scheduler."""

    def add(self, job: CronJobConfig) -> dict[str, Any]:
        """Create a job; its description (with ``id`` and the next run)."""

    def remove(self, job_id: str) -> bool:
        """Delete a job; False when there was none."""

    def list_jobs(self, include_disabled: bool = True) -> list[dict[str, Any]]:
        """Every job, described."""


def _schedule(arguments: dict[str, Any]) -> dict[str, Any]:
    after = arguments.get("in")
    if after:
        try:
            delay = parse_duration_ms(str(after))
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        if delay < 1000:
            raise ToolError("in must be at least 1s")
        return {"kind": "at", "atMs": int(time.time() * 1000) + delay}
    schedule = arguments.get("schedule")
    if not isinstance(schedule, dict):
        raise ToolError('give "in" (e.g. "2m") or a schedule {kind: at|every|cron, ...}')
    return schedule


def _add(jobs: CronJobs, arguments: dict[str, Any], context: ToolContext) -> str:
    message = str(arguments.get("message") or "").strip()
    if not message:
        raise ToolError("message (what to do or say when the job runs) must not be empty")
    document: dict[str, Any] = {
        "schedule": _schedule(arguments),
        "payload": {"kind": "agentTurn", "message": message},
        "deleteAfterRun": bool(arguments.get("in")) or arguments.get("deleteAfterRun", False),
    }
    if arguments.get("name"):
        document["name"] = str(arguments["name"])[:200]
    origin = _CHANNEL_SESSION.match(context.session_key)
    if arguments.get("to"):
        document["delivery"] = {"mode": "announce", "to": str(arguments["to"]),
                                "channel": arguments.get("channel")}
    elif origin is not None:  # asked from a chat: answer in that chat
        document["delivery"] = {"mode": "announce", "to": origin["chat"],
                                "channel": origin["channel"], "accountId": origin["account"]}
    else:  # asked from the main session: run there, where the asker reads
        document["sessionTarget"] = "main"
        document["delivery"] = {"mode": "none"}
    try:
        job = msgspec.convert(document, CronJobConfig)
        added = jobs.add(job)
    except msgspec.ValidationError as exc:
        raise ToolError(f"invalid job: {exc}") from None
    except OpenClawError as exc:
        raise ToolError(exc.message) from None
    return "scheduled: " + json.dumps(added, sort_keys=True, default=str)


def cron_tool(jobs: CronJobs) -> Tool:
    """The ``cron`` tool (actions ``add``, ``list``, ``remove``) on ``jobs``."""

    async def run(arguments: dict[str, Any], context: ToolContext) -> str:
        action = arguments.get("action") or "add"
        if action == "add":
            return _add(jobs, arguments, context)
        if action == "list":
            return json.dumps(jobs.list_jobs(), sort_keys=True, default=str)
        if action == "remove":
            job_id = str(arguments.get("id") or "")
            if not jobs.remove(job_id):
                raise ToolError(f"no scheduled job {job_id!r}")
            return f"removed job {job_id}"
        raise ToolError(f"unsupported action {action!r}: add, list or remove")

    return Tool(ToolSpec(
        "cron", "Schedule, list or remove jobs: an agent turn that runs at a time, every "
        "interval or on a cron expression (reminders: action add with in=\"2m\").", {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["add", "list", "remove"]},
                "message": {"type": "string",
                            "description": "What the agent is told when the job runs"},
                "in": {"type": "string", "description": "Run once after this long: 90s, 2m, 1h"},
                "schedule": {"type": "object", "description":
                             '{"kind":"at","at":ISO} | {"kind":"every","every":"10m"} | '
                             '{"kind":"cron","expr":"0 9 * * 1-5","tz":"Europe/Berlin"}'},
                "name": {"type": "string"},
                "to": {"type": "string", "description": "Deliver the reply to this chat"},
                "channel": {"type": "string"},
                "id": {"type": "string", "description": "The job to remove"},
            },
            "required": ["action"]}), run)
