"""Profile → state dir, config path, log dir, port defaults and service names.

Pure: everything is computed from the profile flags and an environment mapping, so
the same rules serve the gateway, the CLI and the tests. Explicit ``OPENCLAW_*``
environment variables always win over what the profile would derive; the profile
only fills the gaps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from openclaw.errors import UsageError

__all__ = [
    "DEFAULT_PORT",
    "DEV_PORT",
    "Profile",
    "ensure_private_dir",
    "resolve_profile",
]

DEFAULT_PORT = 18789
DEV_PORT = 19001
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Profile:
    """Where one gateway instance keeps its things, and what it is called.

    Attributes:
        name: profile name (``default`` for the unnamed one).
        home: the home directory all defaults hang off (``OPENCLAW_HOME`` or ``HOME``).
        state_dir: owner-only directory for state, credentials and logs.
        config_path: the JSON5 config file.
        log_dir: where the daily file logs go.
        default_port: the port when neither flag, env nor config names one.
    """

    name: str
    home: Path
    state_dir: Path
    config_path: Path
    log_dir: Path
    default_port: int

    @property
    def is_default(self) -> bool:
        """True for the unnamed profile, whose names carry no suffix."""
        return self.name == "default"

    @property
    def systemd_unit(self) -> str:
        """systemd unit name: ``openclaw-gateway[-<profile>].service``."""
        suffix = "" if self.is_default else f"-{self.name}"
        return f"openclaw-gateway{suffix}.service"

    @property
    def launchd_label(self) -> str:
        """launchd label: ``bot.molt.gateway`` or ``bot.molt.<profile>``."""
        return "bot.molt.gateway" if self.is_default else f"bot.molt.{self.name}"

    @property
    def token_path(self) -> Path:
        """The generated gateway token, used when no token is configured."""
        return self.state_dir / "credentials" / "gateway-token"

    @property
    def runtime_path(self) -> Path:
        """JSON record of the running gateway (pid, port, start time)."""
        return self.state_dir / "gateway.runtime.json"

    @property
    def lock_path(self) -> Path:
        """File the running gateway holds an exclusive lock on."""
        return self.state_dir / "gateway.lock"


def _validate_name(name: str, flag: str) -> str:
    if not name:
        raise UsageError(f"{flag} requires a value")
    if not _PROFILE_NAME.match(name):
        raise UsageError(f'invalid {flag} {name!r} (use letters, numbers, "_", "-" only)')
    return name


def resolve_profile(
    profile: str | None = None,
    *,
    dev: bool = False,
    env: Mapping[str, str] | None = None,
) -> Profile:
    """Resolve the profile from the flags and the environment.

    ``--dev`` is profile ``dev`` and cannot be combined with ``--profile``. With no
    flag, ``OPENCLAW_PROFILE`` picks the profile. ``OPENCLAW_HOME``,
    ``OPENCLAW_STATE_DIR`` and ``OPENCLAW_CONFIG_PATH`` override what the profile
    derives.
    """
    environ = os.environ if env is None else env
    if dev and profile is not None and profile != "dev":
        raise UsageError("cannot combine --dev with --profile")
    if dev:
        name = "dev"
    elif profile is not None:
        name = _validate_name(profile, "--profile")
    else:
        name = _validate_name(environ.get("OPENCLAW_PROFILE") or "default", "OPENCLAW_PROFILE")

    home_value = environ.get("OPENCLAW_HOME") or environ.get("HOME") or str(Path.home())
    home = Path(home_value).expanduser()
    default_state = home / (".openclaw" if name == "default" else f".openclaw-{name}")
    state_dir = Path(environ.get("OPENCLAW_STATE_DIR") or default_state).expanduser()
    config_path = Path(
        environ.get("OPENCLAW_CONFIG_PATH") or state_dir / "openclaw.json"
    ).expanduser()
    return Profile(
        name=name,
        home=home,
        state_dir=state_dir,
        config_path=config_path,
        log_dir=state_dir / "logs",
        default_port=DEV_PORT if name == "dev" else DEFAULT_PORT,
    )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only (0700) if missing; return it.

    An existing directory is left as it is: tightening permissions on something the
    user created is ``doctor``'s job, where it is reported first.
    """
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path
