"""Would the gateway start with this config? Asked before a service is (re)written.

A service whose gateway refuses its config only fails under the manager (exit 78,
not relaunched), far from the command that installed it. ``install`` and ``doctor``
ask here first, through this one function, so both refuse for the same reasons the
gateway would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from openclaw.envfile import read_env_file

if TYPE_CHECKING:
    from openclaw.config import Config
    from openclaw.paths import Profile

__all__ = ["check_startable", "service_environ"]


def service_environ(profile: Profile, shell: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a service-run gateway sees: ``<state>/service.env`` under the
    shell's variables (``shell`` stands for ``os.environ``)."""
    return {**read_env_file(profile.service_env_path), **(os.environ if shell is None else shell)}


def check_startable(profile: Profile, environ: Mapping[str, str]) -> Config:
    """Validate the config the way the gateway does at start; return it.

    Parses and validates the file (a missing file gives the built-in defaults), then
    resolves every channel account and the default model's provider against
    ``environ`` (see :func:`service_environ`), without touching the network.

    Raises:
        ConfigError: the gateway would refuse to start (it would exit 78).
    """
    from openclaw.config import load_config
    from openclaw.preflight import check_startable as check_config_startable

    config, exists = load_config(profile.config_path)
    check_config_startable(config, str(profile.config_path) if exists else None, environ,
                           profile.state_dir)
    return config
