"""The channel registry: every chat channel the gateway knows, and what it declares.

A channel is one module (``openclaw.channels.<name>``) exposing ``CHANNEL``, a
:class:`ChannelSpec`. The spec says everything the rest of the gateway needs to know
about the channel without touching its network code: its name and label, its config
section (a closed msgspec struct for ``channels.<name>``) and the checks on it, how
that section resolves into accounts, which secrets it carries (for log redaction, the
service env file and ``doctor``), its capabilities, and a factory for the running
channel. Config validation, the channel manager, ``channels.status``, ``health``,
``/readyz``, ``gateway install`` and ``doctor`` all go through here, so adding a
channel is its module plus one line in :data:`REGISTERED`.

Spec modules stay cheap to import (config structs and account resolution only); the
network code is imported by :attr:`ChannelSpec.create` when an account is started.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import msgspec

from openclaw.errors import ConfigError
from openclaw.schema import Section, describe_validation_error

if TYPE_CHECKING:
    from openclaw.channels.access import AccessPolicy
    from openclaw.channels.base import Channel

__all__ = [
    "REGISTERED",
    "Account",
    "Capabilities",
    "ChannelEnv",
    "ChannelSection",
    "ChannelSpec",
    "all_specs",
    "get_spec",
    "secret_env_names",
    "validate_sections",
]

#: Channel name → the module whose ``CHANNEL`` is its spec, in display order.
REGISTERED: dict[str, str] = {
    "telegram": "openclaw.channels.telegram",
    "whatsapp": "openclaw.channels.whatsapp",
}


#: Base of a channel's config structs (immutable, closed, camelCase keys on disk).
ChannelSection = Section


class Account(Protocol):
    """What every resolved channel account has: its id and the secrets it holds."""

    @property
    def account_id(self) -> str:
        """The account id (``default`` for a channel's top-level account)."""

    @property
    def access(self) -> AccessPolicy:
        """Who may talk to the assistant through this account (dmPolicy and friends)."""

    def secrets(self) -> tuple[str, ...]:
        """Secret values this account uses (never logged, never shown)."""


@dataclass(frozen=True)
class ChannelEnv:
    """What resolving a channel's accounts may read besides its config section."""

    source: str | None  # the config file (relative paths are taken from its folder)
    environ: Mapping[str, str]
    state_dir: Path


@dataclass(frozen=True)
class Capabilities:
    """What a channel can do, for clients and for the send path."""

    media: bool = False
    groups: bool = False
    #: ``None``, or how accounts are linked: ``"qr"`` / ``"code"`` (a login flow).
    login: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The capabilities as ``channels.status`` reports them."""
        return {"media": self.media, "groups": self.groups, "login": self.login}


S = TypeVar("S", bound=ChannelSection)
A = TypeVar("A", bound=Account)


@dataclass(frozen=True)
class ChannelSpec(Generic[S, A]):
    """One channel's declaration (see the module docstring)."""

    name: str
    label: str
    section: type[S]
    #: Resolve the section into the accounts to run (raises ConfigError naming the key).
    accounts: Callable[[S, ChannelEnv], list[A]]
    #: Build the running channel for one account (imports the network code).
    create: Callable[[A], Channel]
    capabilities: Capabilities
    #: Environment variables that carry this channel's secrets (carried into the
    #: service env file by ``gateway install``; redacted everywhere).
    secret_env: tuple[str, ...] = ()
    #: Config keys of the section that hold secrets (redacted when config is shown).
    secret_keys: tuple[str, ...] = ()
    #: The channel keeps login credentials under ``<state>/credentials/<name>/<account>/``
    #: (owner-only; never logged, never shown): its secret is that folder, not a string.
    credentials_dir: bool = False
    #: Cross-field checks on a converted section (raises ConfigError naming the key).
    check: Callable[[S, str | None], None] | None = None
    #: One sentence telling a user how to configure the channel.
    setup_hint: str = ""

    def convert(self, raw: Any, source: str | None) -> S:
        """Validate ``channels.<name>`` from the parsed file into :attr:`section`."""
        try:
            section = msgspec.convert(raw, self.section)
        except msgspec.ValidationError as exc:
            key, reason = describe_validation_error(exc)
            path = f"channels.{self.name}" + ("" if key == "(top level)" else f".{key}")
            raise ConfigError(source, path, reason) from None
        if self.check is not None:
            self.check(section, source)
        return section

    def resolve(self, section: Any, env: ChannelEnv) -> list[A]:
        """The accounts of an already-converted section."""
        if not isinstance(section, self.section):
            raise TypeError(f"channels.{self.name} is not a {self.section.__name__}")
        return self.accounts(section, env)


def get_spec(name: str) -> ChannelSpec[Any, Any]:
    """The spec of channel ``name`` (imports its light spec module).

    Raises:
        KeyError: no such channel is registered.
    """
    module = importlib.import_module(REGISTERED[name])
    spec: ChannelSpec[Any, Any] = module.CHANNEL
    return spec


def all_specs() -> Iterator[ChannelSpec[Any, Any]]:
    """Every registered channel's spec, in display order."""
    for name in REGISTERED:
        yield get_spec(name)


def secret_env_names() -> tuple[str, ...]:
    """Every environment variable a registered channel reads a secret from."""
    return tuple(name for spec in all_specs() for name in spec.secret_env)


def validate_sections(raw: Mapping[str, Any], source: str | None) -> dict[str, ChannelSection]:
    """Convert every ``channels.<name>`` section through its channel's spec.

    Raises:
        ConfigError: an unregistered channel name, or an invalid section.
    """
    sections: dict[str, ChannelSection] = {}
    for name, value in raw.items():
        if name not in REGISTERED:
            raise ConfigError(source, f"channels.{name}",
                              f"unknown channel (known: {', '.join(REGISTERED)})")
        sections[name] = get_spec(name).convert(value, source)
    return sections
