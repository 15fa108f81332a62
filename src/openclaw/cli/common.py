"""What every command shares: the profile from global flags, the gateway target
and credentials, and printing data as text or ``--json``."""

from __future__ import annotations

import json
import os
import sys

from openclaw.configfile import get_path, read_document, resolve_port
from openclaw.credentials import stored_credentials
from openclaw.errors import ConfigError
from openclaw.paths import Profile, resolve_profile
from openclaw.runtimeinfo import running_port

TYPE_CHECKING = False  # typing and dataclasses cost import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = [
    "Target",
    "print_json",
    "profile_of",
    "resolve_target",
    "timeout_s",
    "wants_json",
]


def profile_of(ns: argparse.Namespace) -> Profile:
    """The profile selected by ``--profile``/``--dev``/``OPENCLAW_PROFILE``."""
    return resolve_profile(getattr(ns, "profile", None), dev=bool(getattr(ns, "dev", False)))


def wants_json(ns: argparse.Namespace) -> bool:
    """True when ``--json`` was given anywhere on the command line."""
    return bool(getattr(ns, "json", False))


def timeout_s(ns: argparse.Namespace) -> float:
    """``--timeout MS`` in seconds (at least 1 ms)."""
    return max(1, int(getattr(ns, "timeout", 10_000))) / 1000


class Target:
    """Where the client connects and with which secret. Never print the secret."""

    __slots__ = ("explicit", "password", "token", "url")

    def __init__(self, url: str, token: str | None, password: str | None, explicit: bool) -> None:
        self.url = url
        self.token = token
        self.password = password
        self.explicit = explicit

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, explicit={self.explicit})"  # no secrets


def resolve_target(ns: argparse.Namespace) -> Target:
    """Resolve the gateway URL and credentials for a client command.

    ``--url`` uses only ``--token``/``--password`` (never stored credentials).
    Otherwise: ``OPENCLAW_GATEWAY_URL``, else ``ws://127.0.0.1:<port>`` where the port
    is ``OPENCLAW_GATEWAY_PORT``, else the running gateway's of this profile (its
    runtime record), else the configured or default one; and the secret from flag →
    env → the service env file → config →
    the generated token file. An invalid config file does not stop a client: the
    values that can be read are used.
    """
    token = getattr(ns, "token", None)
    password = getattr(ns, "password", None)
    if getattr(ns, "url", None):
        return Target(ns.url, token, password, True)
    profile = profile_of(ns)
    try:
        document = read_document(profile.config_path)
    except ConfigError:
        document = None
    port = None if os.environ.get("OPENCLAW_GATEWAY_PORT") else running_port(profile)
    if port is None:
        port, _ = resolve_port(None, get_path(document, "gateway.port"), profile.default_port)
    url = os.environ.get("OPENCLAW_GATEWAY_URL") or f"ws://127.0.0.1:{port}"
    stored_token, stored_password = stored_credentials(profile, document)
    return Target(url, token or stored_token, password or stored_password, False)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
