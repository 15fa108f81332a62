"""The agent's built-in tools, assembled from the config: what the gateway offers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openclaw.agent.exec import ExecApprovals, exec_tool
from openclaw.agent.tools import ToolBox
from openclaw.agent.workspace import Workspace, file_tools
from openclaw.config import Config
from openclaw.redact import Redactor

__all__ = ["builtin_tools", "workspace_path"]


def workspace_path(config: Config, home: Path, state_dir: Path) -> Path:
    """``agents.defaults.workspace`` (``~`` is ``home``; relative paths are under the
    state directory), or ``<state dir>/workspace``."""
    configured = config.agents.defaults.workspace
    if not configured:
        return state_dir / "workspace"
    if configured == "~" or configured.startswith("~/"):
        return home / configured[2:]
    path = Path(configured)
    return path if path.is_absolute() else state_dir / path


def builtin_tools(config: Config, workspace: Workspace, approvals: ExecApprovals,
                  environ: Mapping[str, str], redactor: Redactor) -> ToolBox:
    """``read``, ``write``, ``edit`` and ``exec`` (none when ``tools.enabled`` is off)."""
    box = ToolBox(redactor=redactor)
    if not config.tools.enabled:
        return box
    for tool in file_tools(workspace):
        box.add(tool)
    box.add(exec_tool(workspace, config.tools.exec, approvals, environ))
    return box
