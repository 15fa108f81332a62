"""What every command shares: the profile from global flags, the gateway target
and credentials (printing is :mod:`openclaw.cli.render`'s)."""

from __future__ import annotations

import os

from openclaw.configfile import read_lenient
from openclaw.credentials import stored_credentials_with_source
from openclaw.errors import AuthError, OpenClawError, UsageError
from openclaw.paths import Profile, resolve_profile
from openclaw.runtimeinfo import running_port

TYPE_CHECKING = False  # typing and dataclasses cost import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any

__all__ = [
    "Target",
    "call_gateway",
    "display_path",
    "explain",
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


def display_path(path: Path | str) -> str:
    """``path`` with the home directory shown as ``~`` (for messages)."""
    text = str(path)
    home = os.path.expanduser("~")
    if home not in ("", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text


def timeout_s(ns: argparse.Namespace) -> float:
    """``--timeout MS`` in seconds (at least 1 ms)."""
    return max(1, int(getattr(ns, "timeout", 10_000))) / 1000


class Target:
    """Where the client connects and with which secret. Never print the secret.

    ``token_source`` says where the token came from (``--token``,
    ``OPENCLAW_GATEWAY_TOKEN``, ``service-env``, ``gateway.auth.token``,
    ``token-file``; ``None`` without one) so that a refusal can name the right place.
    """

    __slots__ = ("explicit", "password", "token", "token_source", "url")

    def __init__(self, url: str, token: str | None, password: str | None, explicit: bool,
                 token_source: str | None = None) -> None:
        self.url = url
        self.token = token
        self.password = password
        self.explicit = explicit
        self.token_source = token_source

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

    The target is also kept on ``ns`` (``ns.target``), so the CLI's error boundary
    can say where a refused token came from.
    """
    target = _resolve_target(ns)
    ns.target = target
    return target


def _resolve_target(ns: argparse.Namespace) -> Target:
    token = getattr(ns, "token", None)
    password = getattr(ns, "password", None)
    if getattr(ns, "url", None):
        return Target(ns.url, token, password, True, "--token" if token else None)
    profile = profile_of(ns)
    config = read_lenient(profile.config_path)
    port = None if os.environ.get("OPENCLAW_GATEWAY_PORT") else running_port(profile)
    if port is None:
        port, _ = config.port(profile.default_port)
    url = os.environ.get("OPENCLAW_GATEWAY_URL") or f"ws://127.0.0.1:{port}"
    stored_token, stored_password, source = stored_credentials_with_source(profile, config)
    if token:
        source = "--token"
    return Target(url, token or stored_token, password or stored_password, False, source)



def explain(exc: OpenClawError, ns: argparse.Namespace) -> None:
    """Make the hint of ``exc`` precise with what only the command line knows.

    A usage error points at the ``--help`` of the command that was run; an auth
    refusal names where the refused secret came from (``--token``, the environment,
    the generated token file, ...) and, with ``--url``, does not suggest sources
    that an explicit URL ignores.
    """
    if isinstance(exc, UsageError) and exc.hint is None:
        exc.hint = f"see '{getattr(ns, 'command', 'openclaw')} --help'"
    target = getattr(ns, "target", None)
    code = (exc.details or {}).get("code")
    if isinstance(exc, AuthError) and isinstance(target, Target) and isinstance(code, str):
        from openclaw.client.core import auth_hint

        exc.hint = auth_hint(code, explicit_url=target.explicit,
                             token_source=target.token_source,
                             token_file=display_path(profile_of(ns).token_path))


def call_gateway(ns: argparse.Namespace, method: str, params: dict[str, Any] | None = None,
                 *, expect_final: bool = False) -> Any:
    """Call ``method`` on the gateway the command line names (one connection, closed
    after the answer, bounded by ``--timeout``); raises the client's errors."""
    from openclaw.client.sync import call_once

    target = resolve_target(ns)
    return call_once(target.url, method, params, token=target.token, password=target.password,
                     timeout=timeout_s(ns), expect_final=expect_final)
