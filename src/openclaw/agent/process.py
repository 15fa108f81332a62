"""Background commands: ``exec`` with ``background: true``, and the ``process`` tool.

A background command is started like a foreground one (same approval, working
directory, environment and process group) but ``exec`` answers at once with a
``sessionId``; its output is collected here, capped to the newest
``tools.exec.maxOutputChars`` bytes, and it is killed at its timeout like any command.
``process`` then lets the model ``list`` the background commands, ``poll`` one (the
output since the last poll, and whether it is still running or how it ended) or
``kill`` it. Finished commands are kept until :data:`KEEP_FINISHED` newer ones have
finished. The gateway kills every background command when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from openclaw.agent.providers.base import ToolSpec
from openclaw.agent.tools import Tool, ToolContext, ToolError

__all__ = ["BackgroundProcesses", "process_tool"]

KEEP_FINISHED: Final = 20
_READ_CHUNK: Final = 65_536


@dataclass
class _Background:
    session_id: str
    command: str
    process: asyncio.subprocess.Process
    started: float
    max_bytes: int
    output: bytearray = field(default_factory=bytearray)
    dropped: int = 0  # bytes cut from the front (only the newest are kept)
    read_to: int = 0  # absolute offset (dropped + index) the last poll returned up to
    ending: str | None = None  # "exit code N", "timed out", "killed"
    task: asyncio.Task[None] | None = None

    def add(self, chunk: bytes) -> None:
        self.output += chunk
        extra = len(self.output) - self.max_bytes
        if extra > 0:
            del self.output[:extra]
            self.dropped += extra

    def row(self) -> dict[str, Any]:
        return {"sessionId": self.session_id, "command": self.command,
                "status": self.ending or "running",
                "runtimeSeconds": round(time.monotonic() - self.started, 1)}


class BackgroundProcesses:
    """The background commands of this gateway (see the module docstring)."""

    def __init__(self) -> None:
        self.runs: dict[str, _Background] = {}
        self._ids = itertools.count(1)

    async def start(self, command: str, cwd: Path, env: Mapping[str, str], timeout_s: float,
                    max_bytes: int) -> str:
        """Start ``command``; its session id."""
        process = await asyncio.create_subprocess_shell(
            command, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        run = _Background(f"bg-{next(self._ids)}", command, process, time.monotonic(),
                          max_bytes)
        run.task = asyncio.get_running_loop().create_task(self._follow(run, timeout_s),
                                                          name=f"background {run.session_id}")
        self.runs[run.session_id] = run
        return run.session_id

    async def _follow(self, run: _Background, timeout_s: float) -> None:
        assert run.process.stdout is not None
        try:
            async with asyncio.timeout(timeout_s):
                while chunk := await run.process.stdout.read(_READ_CHUNK):
                    run.add(chunk)
                code = await run.process.wait()
            run.ending = run.ending or f"exit code {code}"
        except TimeoutError:
            _kill(run.process)
            await run.process.wait()
            run.ending = f"timed out after {timeout_s:g}s: killed"
        except asyncio.CancelledError:
            _kill(run.process)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(run.process.wait())
            run.ending = run.ending or "killed"
            raise
        finally:
            self._forget_old()

    def _forget_old(self) -> None:
        finished = [r for r in self.runs.values() if r.ending is not None]
        for run in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            self.runs.pop(run.session_id, None)

    def get(self, session_id: str) -> _Background:
        """One background command.

        Raises:
            ToolError: no such session.
        """
        run = self.runs.get(session_id)
        if run is None:
            known = ", ".join(self.runs) or "none"
            raise ToolError(f"no background command {session_id!r} (sessions: {known})")
        return run

    def poll(self, session_id: str) -> str:
        """The output since the last poll and the status."""
        run = self.get(session_id)
        start = max(run.read_to - run.dropped, 0)
        missed = max(run.dropped - run.read_to, 0)
        text = bytes(run.output[start:]).decode("utf-8", errors="replace")
        run.read_to = run.dropped + len(run.output)
        lines = [f"[{missed} bytes of output were dropped]"] if missed else []
        if text:
            lines.append(text.rstrip("\n"))
        lines.append(f"[{run.ending}]" if run.ending else "[still running]")
        return "\n".join(lines)

    async def kill(self, session_id: str) -> str:
        """Kill a running background command (its process group)."""
        run = self.get(session_id)
        if run.ending is not None:
            return f"{session_id} already ended: {run.ending}"
        run.ending = "killed"
        _kill(run.process)
        if run.task is not None:
            await asyncio.wait([run.task], timeout=5)
        return f"{session_id} killed"

    async def close(self) -> None:
        """Kill every running background command (the gateway is stopping)."""
        running = [run for run in self.runs.values() if run.ending is None]
        for run in running:
            run.ending = "killed"
            _kill(run.process)
        tasks = [run.task for run in running if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)


def process_tool(processes: BackgroundProcesses) -> Tool:
    """The ``process`` tool on ``processes``."""

    async def run(arguments: dict[str, Any], context: ToolContext) -> str:
        action = arguments["action"]
        if action == "list":
            return json.dumps([r.row() for r in processes.runs.values()])
        session_id = arguments.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise ToolError(f"action {action!r} needs a sessionId")
        if action == "poll":
            return processes.poll(session_id)
        if action == "kill":
            return await processes.kill(session_id)
        raise ToolError(f"unknown action {action!r}: list, poll or kill")

    return Tool(ToolSpec(
        "process", "Manage commands exec started in the background: list them, poll one "
                   "for new output and its status, or kill one.", {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["list", "poll", "kill"]},
                "sessionId": {"type": "string",
                              "description": "The sessionId exec answered with"},
            },
            "required": ["action"]}), run)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
