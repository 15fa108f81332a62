"""The interface every service backend implements, and the choice of backend.

A backend knows one service manager (systemd user, systemd system, launchd). It
reads and writes the profile's service definition and drives the manager through
a :class:`~openclaw.service.runner.CommandRunner`. Deciding *what* to write lives
in :mod:`openclaw.service.spec`; deciding whether that is wise lives in the
commands and ``doctor``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from openclaw.errors import ExitCode, OpenClawError
from openclaw.paths import Profile
from openclaw.service.runner import CommandRunner
from openclaw.service.spec import ServiceSpec

__all__ = [
    "BACKEND_ENV",
    "InstalledService",
    "OtherService",
    "Runtime",
    "RuntimeState",
    "ServiceBackend",
    "ServiceError",
    "ServiceManagerUnavailable",
    "env_differences",
    "scan_definitions",
    "select_backend",
]

BACKEND_ENV = "OPENCLAW_SERVICE_BACKEND"
RuntimeState = Literal[
    "not-installed", "stopped", "starting", "running", "stopping", "failed",
    "crash-looping", "unknown",
]


class ServiceError(OpenClawError):
    """A service operation failed; the message says what the manager reported."""


class ServiceManagerUnavailable(OpenClawError):
    """No usable service manager here (container, WSL without systemd, Windows, ...)."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass(frozen=True)
class InstalledService:
    """A service definition found on disk, decoded (environment values are raw)."""

    name: str
    path: Path
    text: str
    argv: list[str]
    environment: dict[str, str]
    working_directory: str | None
    env_files: list[str] = field(default_factory=list)

    @property
    def port(self) -> int | None:
        """The ``--port`` on the command line, if any."""
        for i, word in enumerate(self.argv[:-1]):
            if word == "--port" and self.argv[i + 1].isdigit():
                return int(self.argv[i + 1])
        for word in self.argv:
            if word.startswith("--port=") and word[7:].isdigit():
                return int(word[7:])
        return None


@dataclass(frozen=True)
class Runtime:
    """What the service manager says about the service right now."""

    state: RuntimeState
    pid: int | None = None
    restarts: int | None = None
    last_exit_status: int | None = None
    result: str | None = None
    since: str | None = None
    detail: str | None = None
    enabled: bool | None = None
    needs_reload: bool = False
    drop_ins: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The ``runtime`` layer of ``gateway status --json``."""
        return {
            "state": self.state, "pid": self.pid, "restarts": self.restarts,
            "lastExitStatus": self.last_exit_status, "result": self.result,
            "since": self.since, "detail": self.detail, "enabled": self.enabled,
            "needsReload": self.needs_reload, "dropIns": self.drop_ins,
        }


@dataclass(frozen=True)
class OtherService:
    """A service that is not this profile's: legacy, another profile, or gateway-like."""

    name: str
    path: Path
    scope: str
    kind: Literal["legacy", "profile", "gateway-like"]
    command: str = ""

    def to_json(self) -> dict[str, str]:
        """JSON form for status and doctor."""
        return {"name": self.name, "path": str(self.path), "scope": self.scope,
                "kind": self.kind, "command": self.command}


def env_differences(want: Mapping[str, object], have: Mapping[str, object]) -> list[str]:
    """``KEY missing`` / ``KEY extra`` / ``KEY changed`` for two environments, by name
    only (an installed definition may hold an inline secret, never shown)."""
    out = []
    for key in sorted(set(want) | set(have)):
        if key in want and key in have and want[key] == have[key]:
            continue
        if key not in have:
            out.append(f"{key} missing")
        elif key not in want:
            out.append(f"{key} extra")
        else:
            out.append(f"{key} changed")
    return out


def scan_definitions(
    places: list[tuple[Path, str]],
    pattern: str,
    skip: Path,
    classify: Callable[[Path, str], OtherService | None],
) -> list[OtherService]:
    """Classify every definition file matching ``pattern`` in ``(directory, scope)``
    places, once per real file (symlinked duplicates collapse), skipping ``skip``."""
    found: dict[str, OtherService] = {}
    for directory, scope in places:
        try:
            candidates = sorted(directory.glob(pattern))
        except OSError:
            continue
        for path in candidates:
            real = str(path.resolve())
            if path == skip or real in found:
                continue
            other = classify(path, scope)
            if other is not None:
                found[real] = other
    return list(found.values())


class ServiceBackend(Protocol):
    """One service manager, bound to one profile's service."""

    kind: str
    name: str
    definition_path: Path
    runner: CommandRunner

    def availability(self) -> str | None:
        """None when the manager can be used; otherwise why not and what to do."""

    def render(self, spec: ServiceSpec) -> str:
        """The definition text ``install`` writes for ``spec``."""

    def read_installed(self) -> InstalledService | None:
        """The installed definition of this profile's service, if any."""

    def differences(self, spec: ServiceSpec, installed: InstalledService) -> list[str]:
        """Human lines naming each setting that differs from ``render(spec)``."""

    def write(self, spec: ServiceSpec) -> None:
        """Write the definition (and, where the manager allows it without starting the
        service, make the manager read it: systemd's ``daemon-reload``)."""

    def enable_and_start(self, *, restart: bool) -> None:
        """Enable at boot/login and start. ``restart`` means the definition was just
        (re)written or the running process must be replaced: afterwards a new process
        runs the definition now on disk."""

    def start(self) -> None:
        """Start the installed service (clearing a previous give-up)."""

    def stop(self) -> None:
        """Stop the service now (it still starts at the next boot/login)."""

    def restart(self) -> None:
        """Restart through the manager."""

    def remove(self) -> bool:
        """Stop, disable and delete the definition; False when there was none."""

    def runtime(self) -> Runtime:
        """The manager's view of the service."""

    def legacy_services(self) -> list[OtherService]:
        """Services of this profile from older releases (clawdbot, moltbot, com.openclaw)."""

    def remove_other(self, other: OtherService) -> None:
        """Stop, disable and delete another service (a legacy one)."""

    def scan(self, deep: bool) -> list[OtherService]:
        """Other gateway-like services; ``deep`` adds system-level locations."""


def _backend_choice(explicit: str | None, environ: Mapping[str, str]) -> str:
    choice = explicit or environ.get(BACKEND_ENV) or ""
    if choice:
        if choice not in ("systemd", "launchd"):
            raise OpenClawError(
                f"unknown service backend {choice!r} "
                f"(from {'--backend' if explicit else BACKEND_ENV}); use systemd or launchd"
            )
        return choice
    if sys.platform.startswith("linux"):
        return "systemd"
    if sys.platform == "darwin":
        return "launchd"
    if sys.platform in ("win32", "cygwin"):
        raise ServiceManagerUnavailable(
            "native Windows services are not supported: run the gateway inside WSL2 with "
            "systemd enabled (then `openclaw gateway install`), or keep `openclaw gateway` "
            "running in a terminal"
        )
    raise ServiceManagerUnavailable(
        f"no supported service manager on {sys.platform}: run `openclaw gateway` under "
        "your own supervisor instead"
    )


def select_backend(
    profile: Profile,
    *,
    system: bool = False,
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
    runner: CommandRunner | None = None,
) -> ServiceBackend:
    """The backend for this platform (or ``--backend`` / ``OPENCLAW_SERVICE_BACKEND``)."""
    environ = os.environ if env is None else env
    choice = _backend_choice(explicit, environ)
    if choice == "launchd":
        if system:
            raise OpenClawError(
                "--system is for systemd; on macOS the gateway installs as a LaunchAgent"
            )
        from openclaw.service.launchd import LaunchdBackend

        return LaunchdBackend(profile, env=environ, runner=runner)
    from openclaw.service.systemd import SystemdBackend

    return SystemdBackend(profile, scope="system" if system else "user", env=environ,
                          runner=runner)
