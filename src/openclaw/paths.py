"""Profile → state dir, config path, log dir, port defaults and service names.

Pure: everything is computed from the profile flags and an environment mapping, so
the same rules serve the gateway, the CLI and the tests. Explicit ``OPENCLAW_*``
environment variables always win over what the profile would derive; the profile
only fills the gaps.
"""

from __future__ import annotations

import os
import re
import zlib
from collections import namedtuple
from pathlib import Path

from openclaw.errors import UsageError

TYPE_CHECKING = False  # typing and dataclasses cost import time on the CLI path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import NamedTuple

    class _ProfileFields(NamedTuple):
        name: str
        home: Path
        state_dir: Path
        config_path: Path
        log_dir: Path
        default_port: int
else:
    _ProfileFields = namedtuple(
        "_ProfileFields", "name home state_dir config_path log_dir default_port"
    )

__all__ = [
    "DEFAULT_PORT",
    "DEV_PORT",
    "Profile",
    "ensure_private_dir",
    "profile_port",
    "resolve_profile",
    "resolve_state_path",
]

DEFAULT_PORT = 18789
DEV_PORT = 19001
#: Named profiles get their own default port: 19001 + 20·k with k in 1..40 derived
#: from the name, so a rescue gateway never collides with the main one and derived
#: ports (base + 2, + 4) of two profiles never overlap.
PROFILE_PORT_BASE = DEV_PORT
PROFILE_PORT_STEP = 20
PROFILE_PORT_SLOTS = 40
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class Profile(_ProfileFields):
    """Where one gateway instance keeps its things, and what it is called (immutable).

    Attributes:
        name: profile name (``default`` for the unnamed one).
        home: the home directory all defaults hang off (``OPENCLAW_HOME`` or ``HOME``).
        state_dir: owner-only directory for state, credentials and logs.
        config_path: the JSON5 config file.
        log_dir: where the daily file logs go.
        default_port: the port when neither flag, env nor config names one.
    """

    __slots__ = ()

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
    def service_env_path(self) -> Path:
        """Owner-only env file a service definition references (secrets live here)."""
        return self.state_dir / "service.env"

    @property
    def runtime_path(self) -> Path:
        """JSON record of the running gateway (pid, port, start time)."""
        return self.state_dir / "gateway.runtime.json"

    @property
    def lock_path(self) -> Path:
        """File the running gateway holds an exclusive lock on."""
        return self.state_dir / "gateway.lock"


def profile_port(name: str) -> int:
    """The default port of profile ``name`` (18789 for default, 19001 for dev)."""
    if name == "default":
        return DEFAULT_PORT
    if name == "dev":
        return DEV_PORT
    slot = 1 + zlib.crc32(name.encode("utf-8")) % PROFILE_PORT_SLOTS
    return PROFILE_PORT_BASE + PROFILE_PORT_STEP * slot


def _validate_name(name: str, flag: str) -> str:
    if not name:
        raise UsageError(f"{flag} requires a value")
    if not _PROFILE_NAME.fullmatch(name):
        raise UsageError(f'invalid {flag} {name!r} (use letters, numbers, "_", "-" only)')
    return name


def _expand(value: str, home: Path) -> Path:
    """Expand a leading ``~`` against ``home`` (not the process's HOME: stays pure)."""
    if value == "~":
        return home
    if value.startswith("~/"):
        return home / value[2:]
    return Path(value)


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

    user_home = environ.get("HOME") or str(Path.home())
    home = _expand(environ.get("OPENCLAW_HOME") or user_home, Path(user_home))
    default_state = home / (".openclaw" if name == "default" else f".openclaw-{name}")
    state_override = environ.get("OPENCLAW_STATE_DIR")
    state_dir = _expand(state_override, home) if state_override else default_state
    config_override = environ.get("OPENCLAW_CONFIG_PATH")
    config_path = _expand(config_override, home) if config_override else state_dir / "openclaw.json"
    return Profile(
        name=name,
        home=home,
        state_dir=state_dir,
        config_path=config_path,
        log_dir=state_dir / "logs",
        default_port=profile_port(name),
    )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` owner-only (0700) if missing; return it.

    Missing parents are created with the default mode: only the directory itself
    holds private things.

    An existing directory is left as it is: tightening permissions on something the
    user created is ``doctor``'s job, where it is reported first.
    """
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def resolve_state_path(value: str | None, home: Path, state_dir: Path, default: Path) -> Path:
    """A path setting of the config: ``~`` is ``home``, a relative path is under the
    state directory, nothing set is ``default``."""
    if not value:
        return default
    path = _expand(value, home)
    return path if path.is_absolute() else state_dir / path
