"""Whether this user's services survive logout (systemd-logind "linger").

Without linger, logind stops a user's systemd manager, and with it the gateway,
when the last session ends (an SSH logout). Where logind is not running (containers,
some WSL setups) the honest answer is "cannot tell", never a crash or a guess.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from openclaw.service.runner import CommandRunner

__all__ = ["Linger", "check_linger", "enable_linger"]

_LINGER_DIR = Path("/var/lib/systemd/linger")


@dataclass(frozen=True)
class Linger:
    """``enabled`` is True/False, or None when it cannot be told (``reason`` says why)."""

    user: str
    enabled: bool | None
    reason: str = ""

    @property
    def fix(self) -> str:
        """The command that enables linger for this user."""
        return f"sudo loginctl enable-linger {self.user}"

    def to_json(self) -> dict[str, object]:
        """JSON form for install, status and doctor."""
        return {"user": self.user, "enabled": self.enabled, "reason": self.reason or None}


def check_linger(runner: CommandRunner, user: str | None = None) -> Linger:
    """Ask logind; fall back to the linger marker file only when logind answers."""
    name = user or getpass.getuser()
    result = runner.run(["loginctl", "show-user", name, "--property=Linger", "--value"],
                        timeout=5)
    if result.ok and result.stdout.strip() in ("yes", "no"):
        return Linger(name, result.stdout.strip() == "yes")
    reason = result.reason()
    if "not logged in or lingering" in reason or "No such user" in reason:
        return Linger(name, (_LINGER_DIR / name).exists())
    return Linger(name, None, f"systemd-logind is not reachable ({reason})")


def enable_linger(runner: CommandRunner, user: str | None = None) -> tuple[bool, str]:
    """``loginctl enable-linger``; ``(ok, reason)``."""
    name = user or getpass.getuser()
    result = runner.run(["loginctl", "enable-linger", name], timeout=15)
    return result.ok, ("" if result.ok else result.reason())
