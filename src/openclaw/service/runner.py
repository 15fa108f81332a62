"""The one place service commands (``systemctl``, ``launchctl``, ``loginctl``) are run.

Backends call :meth:`CommandRunner.run` and never ``subprocess`` directly, so the
exact command sequences are visible in one place and a test can substitute a
recorder where the real manager cannot run (launchd on Linux).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["CommandResult", "CommandRunner"]


@dataclass(frozen=True)
class CommandResult:
    """Exit status and captured output of one command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.returncode == 0

    def reason(self) -> str:
        """The command's own error text in one line (stderr, else stdout)."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return text[-1] if text else f"exit status {self.returncode}"


class CommandRunner:
    """Runs a command with a timeout and captures its output (never raises on exit status)."""

    def __init__(self, env: Mapping[str, str] | None = None, timeout: float = 60.0) -> None:
        self.env = dict(env) if env is not None else None
        self.timeout = timeout

    def run(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        """Run ``argv``; a missing program or a timeout becomes a failed result."""
        try:
            done = subprocess.run(
                list(argv), capture_output=True, text=True, env=self.env,
                timeout=timeout or self.timeout, check=False, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            return CommandResult(tuple(argv), 127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            limit = timeout or self.timeout
            reason = f"{argv[0]} did not finish within {limit:g}s"
            return CommandResult(tuple(argv), 124, "", reason)
        return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)
