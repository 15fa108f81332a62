"""A real systemd user manager for service tests, started by the test suite.

``systemd --user`` runs as an ordinary process once ``/run/systemd/system`` exists
(the marker of a systemd-booted host) and it has a private ``XDG_RUNTIME_DIR``. It
is started with ``NOTIFY_SOCKET`` pointing at a socket of ours, so readiness is the
``READY=1`` it sends, not a timer. No journald and no logind exist here: the
gateway's file log is where errors are read, and linger is "cannot tell".
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import clean_env, run_cli

SYSTEMD = Path("/lib/systemd/systemd")
MARKER = Path("/run/systemd/system")


def skip_reason() -> str | None:
    """Why service tests cannot run here, or None."""
    if not SYSTEMD.exists():
        return f"{SYSTEMD} is missing (apt-get install -y systemd)"
    if not MARKER.is_dir() and os.geteuid() != 0:
        return f"{MARKER} is missing and creating it needs root"
    return None


class UserManager:
    """One ``systemd --user`` with its own HOME and runtime dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.runtime_dir = root / "run"
        self.process: subprocess.Popen[bytes] | None = None
        self.created_marker = False

    def variables(self, **extra: str | None) -> dict[str, str | None]:
        """What processes talking to this manager set (a None value removes a variable):
        its runtime dir, and no session bus or notify socket of the caller's."""
        return {"XDG_RUNTIME_DIR": str(self.runtime_dir), "DBUS_SESSION_BUS_ADDRESS": None,
                "NOTIFY_SOCKET": None, **extra}

    def env(self, **extra: str | None) -> dict[str, str]:
        """The whole environment for systemctl and the manager itself (HOME is its own)."""
        return clean_env(self.home, **self.variables(**extra))

    def start(self, timeout: float = 20.0) -> UserManager:
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not MARKER.is_dir():
            MARKER.mkdir(parents=True)
            self.created_marker = True
        notify_path = self.root / "notify.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(str(notify_path))
        listener.settimeout(timeout)
        try:
            self.process = subprocess.Popen(
                [str(SYSTEMD), "--user"], env=self.env(NOTIFY_SOCKET=str(notify_path)),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=open(self.root / "systemd.log", "wb"),  # noqa: SIM115
                start_new_session=True,
            )
            deadline = time.monotonic() + timeout
            while True:
                message = listener.recv(4096).decode("utf-8", "replace")
                if "READY=1" in message.split("\n"):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("systemd --user did not send READY=1")
        finally:
            listener.close()
            notify_path.unlink(missing_ok=True)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.systemctl("exit")
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.created_marker:
            with contextlib.suppress(OSError):
                MARKER.rmdir()
            self.created_marker = False

    def systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["systemctl", "--user", *args], env=self.env(),
                              capture_output=True, text=True, timeout=60, check=False)

    def show(self, unit: str) -> dict[str, str]:
        """Selected unit properties from the manager itself."""
        result = self.systemctl(
            "show", unit, "-p",
            "ActiveState,SubState,MainPID,NRestarts,ExecMainStatus,Result,LoadState",
        )
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def cli(
        self, *args: str, timeout: float = 90, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``openclaw ARGS`` as a user would, against this manager."""
        return run_cli(*args, home=self.home, env=self.variables(**extra), timeout=timeout)

    def cli_json(self, *args: str, **extra: str) -> tuple[int, Any]:
        """Run a command with ``--json``; return its exit status and parsed stdout."""
        result = self.cli(*args, "--json", **extra)
        try:
            return result.returncode, json.loads(result.stdout)
        except ValueError as exc:
            raise AssertionError(
                f"not JSON (exit {result.returncode}): {result.stdout!r} {result.stderr!r}"
            ) from exc

    def wait_for(self, unit: str, predicate: Any, timeout: float = 30.0) -> dict[str, str]:
        """Poll the manager until ``predicate(props)`` holds (the manager has no
        subscription we can await without D-Bus); fail with the last state seen."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            props = self.show(unit)
            if predicate(props):
                return props
            if time.monotonic() > deadline:
                raise AssertionError(f"{unit} never reached the expected state: {props}")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
