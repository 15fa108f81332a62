"""What a gateway service must look like for a profile, computed without side effects.

``install`` writes this, ``doctor`` compares the installed definition against it, and
``status`` shows it. Secrets are never part of a spec: they live in the owner-only
env file the definition references (:mod:`openclaw.envfile`), so rotating a
token never needs a reinstall.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from openclaw import __version__
from openclaw.paths import Profile

if TYPE_CHECKING:
    from openclaw.config import Config

__all__ = [
    "SERVICE_MARKER",
    "Scope",
    "ServiceSpec",
    "build_spec",
    "env_file_path",
    "openclaw_command",
]

Scope = Literal["user", "system"]
SERVICE_MARKER = "openclaw"
#: systemd gives the gateway this long beyond its own drain budget before SIGKILL.
STOP_MARGIN_S = 10
_BASE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


def env_file_path(profile: Profile) -> Path:
    """The owner-only env file the service definition references (secrets live here)."""
    return profile.service_env_path


def openclaw_command(executable: str | None = None) -> tuple[str, ...]:
    """The absolute command of *this* install of ``openclaw``.

    The console script beside the interpreter is preferred (that is what a user
    types); without one the interpreter runs the package. The path is absolute but
    symlinks are kept: resolving a virtualenv's ``python`` would escape the venv.
    """
    interpreter = Path(executable or sys.executable).absolute()
    script = interpreter.parent / "openclaw"
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    return (str(interpreter), "-m", "openclaw")


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a service definition of one profile contains (no secrets).

    Attributes:
        profile: the profile the service runs.
        scope: ``user`` (systemd user unit / LaunchAgent) or ``system``.
        program: absolute argv that starts the gateway.
        port: the port pinned on the command line.
        working_directory: the service's cwd (the user's home).
        environment: non-secret environment written into the definition.
        env_file: owner-only file with the secrets, read at start.
        description: human description with profile and version.
        restart_sec: delay before systemd relaunches a gateway that died.
        watchdog_sec: the gateway must ping at least this often (0 disables).
        timeout_stop_sec: systemd's stop budget, larger than the gateway's drain.
        memory_high: systemd ``MemoryHigh=`` (throttle point), or None.
        memory_max: systemd ``MemoryMax=`` (hard limit), or None.
        user: ``User=`` of a system unit.
        log_dir: where the gateway writes its file log (for launchd's stdout too).
    """

    profile: Profile
    scope: Scope
    program: tuple[str, ...]
    port: int
    working_directory: Path
    environment: dict[str, str] = field(default_factory=dict)
    env_file: Path = Path()
    description: str = ""
    restart_sec: int = 2
    watchdog_sec: int = 30
    timeout_stop_sec: int = 15
    memory_high: str | None = None
    memory_max: str | None = None
    user: str | None = None
    log_dir: Path = Path()

    @property
    def argv(self) -> tuple[str, ...]:
        """The full command line: program, ``gateway``, ``--port N``."""
        return (*self.program, "gateway", "--port", str(self.port))


def build_spec(
    profile: Profile,
    config: Config,
    port: int,
    *,
    scope: Scope = "user",
    service_name: str,
    program: tuple[str, ...] | None = None,
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> ServiceSpec:
    """The spec ``install`` would write now for ``profile`` on ``port``.

    ``service_name`` is the unit or label, recorded in the environment so the
    gateway knows how it is supervised. ``env`` stands for ``os.environ``.
    """
    environ = dict(os.environ if env is None else env)
    program = program or openclaw_command()
    bin_dir = str(Path(program[0]).parent)
    search_path = ":".join(dict.fromkeys((bin_dir, *_BASE_PATH)))
    home = environ.get("HOME") or str(profile.home)
    environment = {
        "HOME": home,
        "PATH": search_path,
        "OPENCLAW_PROFILE": profile.name,
        "OPENCLAW_STATE_DIR": str(profile.state_dir),
        "OPENCLAW_CONFIG_PATH": str(profile.config_path),
        "OPENCLAW_SERVICE_MARKER": SERVICE_MARKER,
        "OPENCLAW_SERVICE_KIND": "gateway",
        "OPENCLAW_SERVICE_VERSION": __version__,
        "OPENCLAW_SERVICE_NAME": service_name,
    }
    supervision = config.service
    drain_s = -(-config.gateway.drain_timeout_ms // 1000)
    log_dir = Path(config.logging.dir).expanduser() if config.logging.dir else profile.log_dir
    return ServiceSpec(
        profile=profile,
        scope=scope,
        program=program,
        port=port,
        working_directory=Path(home),
        environment=environment,
        env_file=env_file_path(profile),
        description=f"OpenClaw Gateway (profile: {profile.name}, v{__version__})",
        restart_sec=supervision.restart_sec,
        watchdog_sec=supervision.watchdog_sec,
        timeout_stop_sec=drain_s + STOP_MARGIN_S,
        memory_high=supervision.memory_high,
        memory_max=supervision.memory_max,
        user=user,
        log_dir=log_dir,
    )
