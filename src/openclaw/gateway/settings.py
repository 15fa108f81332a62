"""Everything the gateway needs to start, resolved once from flags, env and config.

Precedence: command-line flag → ``OPENCLAW_*`` environment → config file → built-in
default. The result says where the port and the secret came from, so the start-up
log line and ``status`` can tell the truth about it without ever showing the secret.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from openclaw.config import Config
from openclaw.configfile import resolve_port
from openclaw.credentials import load_or_create_token
from openclaw.errors import ConfigError
from openclaw.paths import Profile

__all__ = ["GatewayFlags", "GatewaySettings", "resolve_settings"]

BindMode = Literal["loopback", "lan", "custom"]
AuthMode = Literal["token", "password", "none"]


@dataclass(frozen=True)
class GatewayFlags:
    """The ``openclaw gateway`` flags that override the config (None: not given)."""

    port: int | None = None
    bind: BindMode | None = None
    auth: AuthMode | None = None
    token: str | None = None
    password: str | None = None
    allow_unconfigured: bool = False


@dataclass(frozen=True)
class GatewaySettings:
    """Resolved start-up settings. ``token``/``password`` are secrets: never log them."""

    port: int
    port_source: str
    bind: BindMode
    hosts: tuple[str, ...]
    auth_mode: AuthMode
    token: str | None
    password: str | None
    secret_source: str
    generated_token: bool
    handshake_timeout_ms: int

    @property
    def display_host(self) -> str:
        """The address clients on this machine should use."""
        return "127.0.0.1" if self.bind == "loopback" else self.hosts[0]


def _bind_hosts(bind: BindMode, custom_host: str | None, source: str | None) -> tuple[str, ...]:
    if bind == "loopback":
        return ("127.0.0.1",)
    if bind == "lan":
        return ("0.0.0.0",)
    try:
        address = ipaddress.IPv4Address(custom_host or "")
    except ValueError:
        raise ConfigError(
            source, "gateway.customBindHost", f"not an IPv4 address: {custom_host!r}"
        ) from None
    host = str(address)
    # Same-host clients always reach the gateway on 127.0.0.1 as well.
    return (host,) if host in ("127.0.0.1", "0.0.0.0") else (host, "127.0.0.1")


def _handshake_timeout(environ: Mapping[str, str], configured: int) -> int:
    text = environ.get("OPENCLAW_HANDSHAKE_TIMEOUT_MS")
    if not text:
        return configured
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 100 <= value <= 600_000:
        raise ConfigError(
            None, "OPENCLAW_HANDSHAKE_TIMEOUT_MS", f"must be 100-600000 milliseconds, got {text!r}"
        )
    return value


def resolve_settings(
    config: Config,
    config_exists: bool,
    profile: Profile,
    flags: GatewayFlags,
    env: Mapping[str, str] | None = None,
) -> GatewaySettings:
    """Resolve the gateway's settings, generating the token file if one is needed.

    Raises:
        ConfigError: an impossible combination, e.g. binding beyond loopback with
            auth ``none``, or password auth with no password anywhere.
    """
    environ = os.environ if env is None else env
    source = str(profile.config_path) if config_exists else None
    gateway = config.gateway
    if gateway.mode == "remote" and not flags.allow_unconfigured:
        raise ConfigError(
            source,
            "gateway.mode",
            '"remote" means this machine is a client of another gateway; set it to "local" '
            "to run one here, or pass --allow-unconfigured",
        )
    port, port_source = resolve_port(flags.port, gateway.port, profile.default_port, environ)
    bind: BindMode = flags.bind or gateway.bind
    hosts = _bind_hosts(bind, gateway.custom_bind_host, source)
    auth_mode: AuthMode = flags.auth or gateway.auth.mode

    token = password = None
    secret_source = "none"
    generated = False
    if auth_mode == "token":
        for value, origin in (
            (flags.token, "flag"),
            (environ.get("OPENCLAW_GATEWAY_TOKEN"), "env"),
            (gateway.auth.token, "config"),
        ):
            if value:
                token, secret_source = value, origin
                break
        else:
            token, _ = load_or_create_token(profile)
            secret_source, generated = "generated", True
    elif auth_mode == "password":
        for value, origin in (
            (flags.password, "flag"),
            (environ.get("OPENCLAW_GATEWAY_PASSWORD"), "env"),
            (gateway.auth.password, "config"),
        ):
            if value:
                password, secret_source = value, origin
                break
        else:
            raise ConfigError(
                source,
                "gateway.auth.password",
                "auth mode is password but no password is set "
                "(set gateway.auth.password, OPENCLAW_GATEWAY_PASSWORD or --password)",
            )
    if auth_mode == "none" and bind != "loopback":
        raise ConfigError(
            source,
            "gateway.auth.mode",
            f"refusing to bind gateway to {bind} ({hosts[0]}) without auth; "
            "use token or password auth, or bind to loopback",
        )
    return GatewaySettings(
        handshake_timeout_ms=_handshake_timeout(environ, gateway.handshake_timeout_ms),
        port=port,
        port_source=port_source,
        bind=bind,
        hosts=hosts,
        auth_mode=auth_mode,
        token=token,
        password=password,
        secret_source=secret_source,
        generated_token=generated,
    )
