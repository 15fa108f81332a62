"""Can this config start a gateway? Answered without starting one.

``gateway install`` and ``doctor`` ask before they (re)write a service, so a config
the gateway would refuse (exit 78) is reported at once instead of leaving a
crash-looping service behind. Channel accounts are resolved through the channel
registry exactly as the gateway resolves them (tokens, token files, duplicates),
and the default model's provider is built; nothing touches the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openclaw.config import Config
from openclaw.errors import ConfigError

__all__ = ["check_startable"]


def check_startable(config: Config, source: str | None, environ: Mapping[str, str],
                    state_dir: Path) -> int:
    """Return how many channel accounts the config runs; raise ConfigError if it cannot
    start."""
    from openclaw.agent.providers.registry import build_provider, parse_model_ref
    from openclaw.channels.manager import configured_accounts
    from openclaw.channels.registry import ChannelEnv

    accounts = configured_accounts(config.channels, ChannelEnv(source, environ, state_dir))
    try:
        build_provider(parse_model_ref(config.agents.defaults.model)[0], config, environ)
    except ValueError as exc:
        raise ConfigError(source, "agents.defaults.model", str(exc)) from None
    return len(accounts)
