"""The agent heartbeat: its timer, its on/off switch, its turns and the last result.

Every ``agents.defaults.heartbeat.every`` the agent runs a turn on the main session
with ``HEARTBEAT.md`` from its workspace (created with a default text when missing)
as context. A reply that is only the acknowledgement ``HEARTBEAT_OK`` (at its start
or end, with at most 300 other characters) means "nothing to report" and is
swallowed; any other reply is delivered to the configured target. Each beat is
kept as ``last-heartbeat`` and broadcast as a ``heartbeat`` event with its real
outcome. The switch set by ``set-heartbeats`` is kept in the state dir, so it
survives a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from openclaw.agent.runtime import AgentRuntime, Deliver, Run
from openclaw.atomicfile import write_atomic
from openclaw.clock import now_ms
from openclaw.config import HeartbeatConfig
from openclaw.errors import OpenClawError
from openclaw.protocol.errors import error_from
from openclaw.store.inbox import Inbox

__all__ = ["DEFAULT_HEARTBEAT_MD", "DEFAULT_PROMPT", "OK_TOKEN", "Heartbeat", "HeartbeatTurn",
           "is_acknowledgement"]

OK_TOKEN = "HEARTBEAT_OK"
#: Characters besides the token that a reply may have and still count as "nothing".
ACK_BUDGET = 300
#: The file's text given to the model at most (the rest is cut).
FILE_CHARS = 20_000
DEFAULT_PROMPT = ("This is a scheduled heartbeat. Follow HEARTBEAT.md (below) strictly. Do not "
                  "infer or repeat old tasks from prior chats. If nothing needs attention, "
                  f"reply {OK_TOKEN}.")
DEFAULT_HEARTBEAT_MD = f"""# HEARTBEAT.md

Checklist for the periodic heartbeat. Keep it short: it is read on every beat.

- If nothing needs the owner's attention, reply {OK_TOKEN}.
"""

log = logging.getLogger("openclaw.gateway.heartbeat")


class Heartbeat:
    """Periodic heartbeat with a persisted enable switch."""

    def __init__(
        self,
        every_ms: int,
        state_path: Path,
        on_beat: Callable[[dict[str, Any]], None],
        every_text: str,
        turn: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.every_ms = every_ms
        self.every_text = every_text
        self._state_path = state_path
        self._on_beat = on_beat
        self._turn = turn
        self.enabled = self._load_enabled()
        self.last: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None

    def _load_enabled(self) -> bool:
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return True
        return bool(data.get("enabled", True)) if isinstance(data, dict) else True

    @property
    def active(self) -> bool:
        """Enabled and with a non-zero interval."""
        return self.enabled and self.every_ms > 0

    @property
    def seconds(self) -> int:
        """The legacy ``heartbeatSeconds`` figure: the interval, 0 when off."""
        return round(self.every_ms / 1000) if self.active else 0

    def summary(self, agent_id: str) -> dict[str, Any]:
        """One agent's heartbeat entry for ``status`` and ``health``."""
        return {
            "agentId": agent_id,
            "enabled": self.active,
            "every": self.every_text,
            "everyMs": self.every_ms if self.every_ms > 0 else None,
        }

    def set_enabled(self, enabled: bool) -> None:
        """Persist the switch, then flip it and (re)start or stop the timer (a write that
        fails, e.g. on a full disk, changes nothing)."""
        write_atomic(self._state_path, json.dumps({"enabled": enabled}), 0o600)
        self.enabled = enabled
        self.stop()
        self.start()

    def start(self) -> None:
        """Run the timer if the heartbeat is active."""
        if self.active and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_ms / 1000)
            await self.beat()

    async def beat(self) -> dict[str, Any]:
        """Run one heartbeat now; record and broadcast its outcome."""
        if self._turn is None:
            event: dict[str, Any] = {"ts": now_ms(), "status": "skipped",
                                     "reason": "no agent runtime"}
        else:
            try:
                event = await self._turn()
            except Exception as exc:  # a beat that breaks must not stop the timer
                log.exception("heartbeat failed")
                event = {"ts": now_ms(), "status": "failed", "reason": f"internal error: {exc}"}
        self.last = event
        log.info("heartbeat %s%s", event["status"],
                 f": {event['reason']}" if event.get("reason") else "")
        self._on_beat(event)
        return event


def is_acknowledgement(text: str) -> bool:
    """True when a heartbeat reply says only "nothing to report": ``HEARTBEAT_OK`` at
    its start or end, with at most :data:`ACK_BUDGET` other characters."""
    body = text.strip()
    if body.startswith(OK_TOKEN):
        rest = body[len(OK_TOKEN):]
    elif body.endswith(OK_TOKEN):
        rest = body[:-len(OK_TOKEN)]
    else:
        return False
    return len(rest.strip(" \t\r\n.!-:")) <= ACK_BUDGET


class HeartbeatTurn:
    """One heartbeat turn: read ``HEARTBEAT.md``, run the agent on the main session,
    swallow an acknowledgement, deliver anything else to the target."""

    def __init__(self, agent: AgentRuntime, config: HeartbeatConfig, workspace: Path,
                 inbox: Inbox, deliver: Deliver | None) -> None:
        self.agent = agent
        self.config = config
        self.workspace = workspace
        self.inbox = inbox
        self.deliver = deliver

    def read_file(self) -> str:
        """``HEARTBEAT.md`` from the workspace, created with a default text if missing."""
        path = self.workspace / "HEARTBEAT.md"
        if not path.exists():
            self.workspace.mkdir(parents=True, exist_ok=True)
            write_atomic(path, DEFAULT_HEARTBEAT_MD, 0o600)
        return path.read_text(encoding="utf-8", errors="replace")[:FILE_CHARS]

    def target(self) -> tuple[str, str | None, str | None] | None:
        """``(to, channel, account)`` to deliver to, or None for no route.

        ``last`` and ``owner`` both mean the chat of the most recent inbound message.
        """
        target = self.config.target
        if target == "none":
            return None
        if target in ("last", "owner"):
            latest = self.inbox.latest_chat()
            if latest is None:
                return None
            channel, account, chat = latest
            return chat, channel, self.config.account_id or account
        if self.config.to is None:
            return None
        return self.config.to, target, self.config.account_id

    async def __call__(self) -> dict[str, Any]:
        started = time.monotonic()
        stamp = now_ms()
        run_id = f"heartbeat:{stamp}"
        try:
            extra = "HEARTBEAT.md (from the workspace):\n" + self.read_file()
        except OSError as exc:
            return {"ts": stamp, "status": "failed", "runId": run_id,
                    "reason": f"cannot read HEARTBEAT.md: {exc}"}
        try:
            _, found = self.agent.submit(
                run_id, self.config.prompt or DEFAULT_PROMPT, session_key="main",
                extra_system=extra, timeout_s=self.config.timeout_seconds)
        except OpenClawError as exc:
            return {"ts": stamp, "status": "failed", "runId": run_id, "reason": exc.message}
        final = await asyncio.shield(found.final) if isinstance(found, Run) else found
        event: dict[str, Any] = {"ts": stamp, "runId": run_id}

        def duration() -> int:
            return int((time.monotonic() - started) * 1000)

        if final.get("status") != "ok":
            error = final.get("error") or {}
            return {**event, "status": "failed", "reason": error.get("message"),
                    "durationMs": duration()}
        text = "".join(p.get("text", "") for p in final["result"]["payloads"])
        if is_acknowledgement(text):
            return {**event, "status": "ok", "text": text, "durationMs": duration()}
        route = self.target()
        if route is None or self.deliver is None:
            return {**event, "status": "ran", "text": text, "durationMs": duration(),
                    "reason": "no-route" if self.config.target != "none" else "target-none"}
        to, channel, account = route
        try:
            result = await self.deliver(f"heartbeat:{run_id}", to, text, channel, account)
        except OpenClawError as exc:
            return {**event, "status": "failed", "text": text, "to": to, "channel": channel,
                    "reason": exc.message, "error": error_from(exc), "durationMs": duration()}
        return {**event, "status": "delivered", "text": text, "to": to,
                "channel": result.get("channel", channel), "durationMs": duration()}
