"""The agent's built-in tools, assembled from the config: what the gateway offers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openclaw.agent.cron_tool import CronJobs, cron_tool
from openclaw.agent.exec import ExecApprovals, exec_tool
from openclaw.agent.process import BackgroundProcesses, process_tool
from openclaw.agent.session_tools import (
    SendText,
    SubmitTurn,
    message_tool,
    session_tools,
    sessions_send_tool,
)
from openclaw.agent.store import SessionStore
from openclaw.agent.tools import ToolBox
from openclaw.agent.webfetch import web_fetch_tool
from openclaw.agent.workspace import Workspace, file_tools
from openclaw.config import Config
from openclaw.paths import resolve_state_path
from openclaw.redact import Redactor

__all__ = ["builtin_tools", "workspace_path"]


def workspace_path(config: Config, home: Path, state_dir: Path) -> Path:
    """``agents.defaults.workspace`` (``~`` is ``home``; relative paths are under the
    state directory), or ``<state dir>/workspace``."""
    return resolve_state_path(config.agents.defaults.workspace, home, state_dir,
                              state_dir / "workspace")


def builtin_tools(config: Config, workspace: Workspace, approvals: ExecApprovals,
                  environ: Mapping[str, str], redactor: Redactor, *,
                  sessions: SessionStore | None = None, send: SendText | None = None,
                  cron: CronJobs | None = None, submit: SubmitTurn | None = None
                  ) -> ToolBox:
    """``read``, ``write``, ``edit``, ``exec`` and ``process``, ``web_fetch`` (unless
    ``tools.web.fetch.enabled`` is off), ``sessions_list`` and ``sessions_history``
    (given the transcripts), ``sessions_send`` (given the runtime's submit),
    ``message`` (given a way to send) and ``cron`` (given the scheduler); none when
    ``tools.enabled`` is off."""
    box = ToolBox(redactor=redactor)
    if not config.tools.enabled:
        return box
    for tool in file_tools(workspace):
        box.add(tool)
    processes = BackgroundProcesses()
    box.add(exec_tool(workspace, config.tools.exec, approvals, environ, processes))
    box.add(process_tool(processes))
    box.closers.append(processes.close)
    if config.tools.web.fetch.enabled:
        box.add(web_fetch_tool(config.tools.web.fetch))
    if sessions is not None:
        for tool in session_tools(sessions):
            box.add(tool)
    if submit is not None:
        box.add(sessions_send_tool(submit))
    if send is not None:
        box.add(message_tool(send))
    if cron is not None:
        box.add(cron_tool(cron))
    return box
