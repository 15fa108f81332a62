"""The ``exec`` tool: shell commands in the workspace, under the owner's rules.

Whether a command runs is decided by :func:`decide` from ``tools.exec``:

============  ===========================  ==================================
security      ask ``off``                  ask ``on-miss`` / ``always``
============  ===========================  ==================================
``deny``      refused                      refused
``allowlist`` runs if allowlisted, else    asks if not allowlisted / asks
              refused
``full``      runs                         asks if not allowlisted / asks
============  ===========================  ==================================

An allowlist entry is a glob matched against the whole command; a command with shell
control characters (``; & | ` $ < > ( )`` or a newline) matches only an entry equal
to it, so ``ls *`` never lets ``ls; rm -rf ~`` through.

Asking is :class:`ExecApprovals`: a pending request is published as
``exec.approval.requested`` (the shape OpenClaw's Control UI reads), answered with
:meth:`ExecApprovals.resolve` (``allow-once``, ``allow-always``, ``deny``) and
announced as ``exec.approval.resolved``; a request nobody answers within the timeout
is denied, and so is one whose run ends first. ``allow-always`` adds the command to
the allowlist, kept in ``exec-approvals.json`` in the state directory, so it runs
without asking next time (except under ``ask: always``, which always asks).

A command runs with ``/bin/sh -c`` in its own process group, its working directory
inside the workspace, stdin closed, and the gateway's environment minus every
variable whose name says it holds a secret; it is killed (the whole group) at its
timeout or when the run is aborted, and its output is capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import os
import re
import signal
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from openclaw.agent.process import BackgroundProcesses
from openclaw.agent.providers.base import ToolSpec
from openclaw.agent.tools import Tool, ToolContext, ToolError
from openclaw.agent.workspace import Workspace
from openclaw.atomicfile import write_atomic
from openclaw.clock import now_ms
from openclaw.config import ExecToolConfig
from openclaw.errors import UsageError
from openclaw.redact import is_secret_key

__all__ = ["DECISIONS", "ExecApprovals", "Verdict", "decide", "exec_tool", "matches_allowlist"]

log = logging.getLogger("openclaw.agent.exec")

Decision = Literal["allow-once", "allow-always", "deny"]
DECISIONS: Final[tuple[Decision, ...]] = ("allow-once", "allow-always", "deny")
Verdict = Literal["run", "ask", "refuse"]
Publish = Callable[[str, dict[str, Any]], None]

_SHELL_CONTROL: Final = re.compile(r"[;&|`$<>()\n\r]")
_READ_CHUNK: Final = 65_536


def matches_allowlist(command: str, allowlist: tuple[str, ...] | list[str]) -> bool:
    """Whether ``command`` is allowlisted (see the module docstring)."""
    command = command.strip()
    plain = _SHELL_CONTROL.search(command) is None
    return any(command == pattern.strip()
               or (plain and fnmatch.fnmatchcase(command, pattern.strip()))
               for pattern in allowlist)


def decide(command: str, security: str, ask: str, allowlist: tuple[str, ...] | list[str]
           ) -> Verdict:
    """Run, ask the owner, or refuse ``command`` (the table in the module docstring)."""
    if security == "deny":
        return "refuse"
    if ask == "always":
        return "ask"
    if matches_allowlist(command, allowlist):
        return "run"
    if ask == "on-miss":
        return "ask"
    return "run" if security == "full" else "refuse"


@dataclass
class _Pending:
    payload: dict[str, Any]
    decision: asyncio.Future[Decision] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class ExecApprovals:
    """Pending approval requests and the remembered allowlist (module docstring).

    Args:
        publish: ``publish(event, payload)`` to the owner's clients.
        timeout_s: how long a request waits before it is denied.
        store: the JSON file remembered ``allow-always`` commands are kept in
            (None: memory only).
    """

    def __init__(self, publish: Publish, timeout_s: float, store: Path | None = None) -> None:
        self.publish = publish
        self.timeout_s = timeout_s
        self.store = store
        self.pending: dict[str, _Pending] = {}
        self.remembered: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        if self.store is None or not self.store.exists():
            return []
        try:
            entries = json.loads(self.store.read_text(encoding="utf-8")).get("allowlist", [])
        except (OSError, ValueError, AttributeError):
            log.warning("%s cannot be read; remembered exec approvals are ignored", self.store)
            return []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("pattern"), str)]

    def allowlist(self, configured: tuple[str, ...]) -> list[str]:
        """The configured patterns plus the remembered commands."""
        return [*configured, *(entry["pattern"] for entry in self.remembered)]

    def remember(self, command: str) -> None:
        """Allow ``command`` from now on (``allow-always``), persistently."""
        if any(entry["pattern"] == command for entry in self.remembered):
            return
        self.remembered.append({"pattern": command, "source": "allow-always",
                                "addedAt": now_ms()})
        if self.store is not None:
            write_atomic(self.store, json.dumps({"allowlist": self.remembered}, indent=2))

    def list(self) -> list[dict[str, Any]]:
        """The pending requests, oldest first, as ``exec.approval.requested`` payloads."""
        return [pending.payload for pending in self.pending.values()]

    async def request(self, command: str, *, cwd: str, session_key: str, security: str,
                      ask: str) -> Decision:
        """Ask the owner about ``command``; the decision, ``deny`` when none comes in time."""
        approval_id = uuid.uuid4().hex
        created = now_ms()
        payload = {
            "id": approval_id,
            "request": {"command": command, "cwd": cwd, "host": "gateway",
                        "security": security, "ask": ask, "agentId": "main",
                        "sessionKey": f"agent:main:{session_key}",
                        "allowedDecisions": list(DECISIONS)},
            "createdAtMs": created,
            "expiresAtMs": created + int(self.timeout_s * 1000),
        }
        pending = _Pending(payload)
        self.pending[approval_id] = pending
        log.info("exec approval %s requested: %s", approval_id, command)
        self.publish("exec.approval.requested", payload)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await asyncio.shield(pending.decision)
        except TimeoutError:
            log.info("exec approval %s expired: denied", approval_id)
            self._resolved(approval_id, "deny", "timeout")
            return "deny"
        except asyncio.CancelledError:  # the run ended (aborted, stopping): nothing waits
            if not pending.decision.done():
                self._resolved(approval_id, "deny", "run-ended")
            raise
        finally:
            self.pending.pop(approval_id, None)

    def resolve(self, approval_id: str, decision: str, resolved_by: str | None = None
                ) -> dict[str, Any]:
        """Answer a pending request.

        Raises:
            UsageError: no such pending request (answered or expired already), or an
                unknown decision.
        """
        if decision not in DECISIONS:
            raise UsageError(f"decision must be one of {', '.join(DECISIONS)}")
        pending = self.pending.pop(approval_id, None)
        if pending is None or pending.decision.done():
            raise UsageError(f"no pending exec approval {approval_id!r} (it was answered or "
                             "expired)")
        chosen: Decision = decision
        pending.decision.set_result(chosen)
        log.info("exec approval %s: %s by %s", approval_id, decision, resolved_by or "owner")
        return self._resolved(approval_id, chosen, resolved_by)

    def _resolved(self, approval_id: str, decision: Decision, resolved_by: str | None
                  ) -> dict[str, Any]:
        payload = {"id": approval_id, "decision": decision, "resolvedBy": resolved_by,
                   "ts": now_ms()}
        self.publish("exec.approval.resolved", payload)
        return payload


def exec_tool(workspace: Workspace, config: ExecToolConfig, approvals: ExecApprovals,
              environ: Mapping[str, str], processes: BackgroundProcesses | None = None
              ) -> Tool:
    """The ``exec`` tool under ``config`` (see the module docstring); with
    ``processes``, ``background: true`` starts the command there and answers at once."""
    env = {name: value for name, value in environ.items() if not is_secret_key(name)}

    async def run(arguments: dict[str, Any], context: ToolContext) -> str:
        command = str(arguments["command"]).strip()
        if not command:
            raise ToolError("command must not be empty")
        cwd = workspace.resolve(str(arguments.get("workdir") or "."))
        if not cwd.is_dir():
            raise ToolError(f"workdir {workspace.show(cwd)} is not a directory")
        timeout = arguments.get("timeoutSeconds") or config.timeout_seconds
        allowlist = approvals.allowlist(config.allowlist)
        verdict = decide(command, config.security, config.ask, allowlist)
        if verdict == "refuse":
            reason = ("tools.exec.security is deny" if config.security == "deny"
                      else "the command is not on the allowlist (tools.exec.security "
                           "allowlist, ask off)")
            raise ToolError(f"exec refused: {reason}")
        if verdict == "ask":
            decision = await approvals.request(command, cwd=str(cwd),
                                               session_key=context.session_key,
                                               security=config.security, ask=config.ask)
            if decision == "deny":
                raise ToolError("exec refused: the owner denied the command (or did not "
                                "answer in time); do not retry it unless asked to")
            if decision == "allow-always":
                approvals.remember(command)
        if arguments.get("background"):
            if processes is None:
                raise ToolError("background commands are not available")
            session_id = await processes.start(command, cwd, env, float(timeout),
                                               config.max_output_chars)
            return (f"started in the background: sessionId {session_id}. Use the process "
                    "tool (action poll) for its output and status, or kill to stop it.")
        return await run_command(command, cwd, float(timeout), config.max_output_chars, env)

    return Tool(ToolSpec(
        "exec", "Run a shell command in the workspace and return its output and exit code. "
                "Commands may need the owner's approval.", {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "Shell command to run"},
                "workdir": {"type": "string",
                            "description": "Working directory, relative to the workspace"},
                "timeoutSeconds": {"type": "number", "minimum": 1,
                                   "description": "Kill the command after this long"},
                **({"background": {"type": "boolean",
                                   "description": "Start it and answer at once with a "
                                                  "sessionId for the process tool"}}
                   if processes is not None else {}),
            },
            "required": ["command"]}), run)


async def run_command(command: str, cwd: Path, timeout_s: float, max_chars: int,
                      env: Mapping[str, str]) -> str:
    """Run ``command``; its (capped) output and how it ended."""
    process = await asyncio.create_subprocess_shell(
        command, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True)
    assert process.stdout is not None
    kept = bytearray()
    dropped = 0
    ending: str
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await process.stdout.read(_READ_CHUNK):
                room = max_chars - len(kept)
                kept += chunk[:room]
                dropped += max(0, len(chunk) - room)
            code = await process.wait()
        ending = f"[exit code {code}]"
    except TimeoutError:
        _kill_group(process)
        await process.wait()
        ending = f"[timed out after {timeout_s:g}s: killed]"
    except asyncio.CancelledError:
        _kill_group(process)
        with contextlib.suppress(ProcessLookupError):
            await asyncio.shield(process.wait())
        raise
    text = kept.decode("utf-8", errors="replace")
    if dropped:
        text += f"\n… [output cut: {dropped} more bytes]"
    return f"{text.rstrip()}\n{ending}" if text.strip() else ending


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
