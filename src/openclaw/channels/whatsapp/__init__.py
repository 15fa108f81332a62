"""The WhatsApp channel's declaration: its config section, accounts and registry entry.

WhatsApp accounts are linked devices (WhatsApp Web), linked by scanning a QR code or
typing a pairing code on the phone (``openclaw channels login --channel whatsapp``).
There is no token in the config: an account's secret is its credentials store,
``<state>/credentials/whatsapp/<account>/`` (owner-only, never logged or shown).

``channels.whatsapp`` holds the settings of account ``default``; with ``accounts``,
each entry is an account of its own that inherits the top-level settings it leaves
unset. This module stays cheap to import; the client (the optional ``neonize``
package) is imported when a configured account starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import msgspec

from openclaw.channels.access import AccessPolicy, DmPolicy, GroupPolicy
from openclaw.channels.registry import Capabilities, ChannelEnv, ChannelSpec
from openclaw.errors import ConfigError
from openclaw.schema import Section

if TYPE_CHECKING:
    from openclaw.channels.base import Channel

__all__ = [
    "CHANNEL",
    "LOGIN_HINT",
    "WhatsAppAccount",
    "WhatsAppAccountConfig",
    "WhatsAppConfig",
    "WhatsAppGroupConfig",
    "allow_entry",
    "whatsapp_accounts",
]

DEFAULT_ACCOUNT: Final = "default"
#: What a user must do when an account is not (or no longer) linked.
LOGIN_HINT: Final = "run `openclaw channels login --channel whatsapp`"
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_JID = re.compile(r"[0-9A-Za-z.:_-]+@(s\.whatsapp\.net|g\.us|lid|c\.us|newsletter)")
_NUMBER_CHARS = re.compile(r"[+\d\s().-]+")


class WhatsAppGroupConfig(Section, frozen=True):
    """One group (by JID) or ``"*"`` under ``groups``."""

    require_mention: bool = True


class WhatsAppAccountConfig(Section, frozen=True):
    """One linked WhatsApp account. Unset fields fall back to ``channels.whatsapp``'s."""

    enabled: bool = True
    name: str | None = None
    dm_policy: DmPolicy | None = None
    allow_from: tuple[str | int, ...] | None = None
    group_policy: GroupPolicy | None = None
    group_allow_from: tuple[str | int, ...] | None = None
    groups: dict[str, WhatsAppGroupConfig] | None = None
    text_chunk_limit: Annotated[int, msgspec.Meta(ge=100, le=65_536)] | None = None
    media_max_mb: Annotated[int, msgspec.Meta(ge=1, le=2048)] | None = None


class WhatsAppConfig(Section, frozen=True):
    """``channels.whatsapp``: the default account, and more under ``accounts``."""

    enabled: bool = True
    name: str | None = None
    #: Direct messages from senders not in allowFrom: "pairing" offers them a code.
    dm_policy: DmPolicy = "pairing"
    allow_from: tuple[str | int, ...] = ()
    group_policy: GroupPolicy = "allowlist"
    group_allow_from: tuple[str | int, ...] | None = None
    #: Groups that are heard at all (JID or "*"), each with its requireMention.
    groups: dict[str, WhatsAppGroupConfig] | None = None
    text_chunk_limit: Annotated[int, msgspec.Meta(ge=100, le=65_536)] = 4000
    media_max_mb: Annotated[int, msgspec.Meta(ge=1, le=2048)] = 50
    accounts: dict[str, WhatsAppAccountConfig] = msgspec.field(default_factory=dict)


def allow_entry(value: str | int) -> str:
    """An ``allowFrom`` entry as senders are compared: ``"*"``, a JID, or phone digits.

    ``"+1 555-123 4567"``, ``"15551234567"`` and ``"whatsapp:+15551234567"`` are all
    ``"15551234567"``.
    """
    text = str(value).strip()
    if text[:9].lower() == "whatsapp:":
        text = text[9:].strip()
    if text == "*" or _JID.fullmatch(text):
        return text.replace("@c.us", "@s.whatsapp.net")
    if _NUMBER_CHARS.fullmatch(text):
        return "".join(char for char in text if char.isdigit())
    return text


def check_section(whatsapp: WhatsAppConfig, source: str | None) -> None:
    """Refuse account ids that cannot name a folder, and allowFrom entries that name nobody."""
    for account_id in whatsapp.accounts:
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise ConfigError(source, f"channels.whatsapp.accounts.{account_id}",
                              "an account id is 1-64 letters, digits, '-' or '_'")
    scopes: list[tuple[str, WhatsAppConfig | WhatsAppAccountConfig]] = [("", whatsapp)]
    scopes += [(f".accounts.{key}", value) for key, value in whatsapp.accounts.items()]
    for prefix, scope in scopes:
        for key, entries in (("allowFrom", scope.allow_from),
                             ("groupAllowFrom", scope.group_allow_from)):
            for index, entry in enumerate(entries or ()):
                normal = allow_entry(entry)
                if not (normal == "*" or normal.isdigit() or _JID.fullmatch(normal)):
                    raise ConfigError(
                        source, f"channels.whatsapp{prefix}.{key}[{index}]",
                        f"not a phone number, JID or \"*\": {entry!r}")


@dataclass(frozen=True)
class WhatsAppAccount:
    """One linked-device account as the gateway runs it: effective settings and paths."""

    account_id: str
    #: The credentials store (owner-only); its contents are secret.
    credentials_dir: Path
    #: Where received media are stored.
    media_dir: Path
    text_chunk_limit: int
    media_max_bytes: int
    access: AccessPolicy
    name: str | None = None

    @property
    def credentials_path(self) -> Path:
        """The SQLite file of the linked device's keys and session."""
        return self.credentials_dir / "creds.db"

    def secrets(self) -> tuple[str, ...]:
        """No secret strings: the secret is the credentials folder."""
        return ()


def whatsapp_accounts(whatsapp: WhatsAppConfig, env: ChannelEnv) -> list[WhatsAppAccount]:
    """Resolve ``channels.whatsapp`` into the accounts to run (no network, no files read).

    Without ``accounts`` the section is account ``default``; with it, each enabled
    entry is an account that inherits the top-level settings it leaves unset.
    """
    if not whatsapp.enabled:
        return []
    entries: dict[str, WhatsAppAccountConfig] = (
        dict(whatsapp.accounts) if whatsapp.accounts
        else {DEFAULT_ACCOUNT: WhatsAppAccountConfig()})
    accounts = []
    for account_id, entry in entries.items():
        if not entry.enabled:
            continue
        allow = entry.allow_from if entry.allow_from is not None else whatsapp.allow_from
        group_allow = (entry.group_allow_from if entry.group_allow_from is not None
                       else whatsapp.group_allow_from)
        groups = entry.groups if entry.groups is not None else whatsapp.groups
        access = AccessPolicy(
            dm_policy=entry.dm_policy or whatsapp.dm_policy,
            allow_from=frozenset(allow_entry(value) for value in allow),
            group_policy=entry.group_policy or whatsapp.group_policy,
            group_allow_from=(None if group_allow is None
                              else frozenset(allow_entry(value) for value in group_allow)),
            groups=(None if groups is None
                    else {allow_entry(key): value.require_mention
                          for key, value in groups.items()}),
            require_mention=True,
        )
        accounts.append(WhatsAppAccount(
            account_id=account_id,
            credentials_dir=env.state_dir / "credentials" / "whatsapp" / account_id,
            media_dir=env.state_dir / "media" / "whatsapp" / account_id,
            text_chunk_limit=entry.text_chunk_limit or whatsapp.text_chunk_limit,
            media_max_bytes=(entry.media_max_mb or whatsapp.media_max_mb) * 1024 * 1024,
            access=access,
            name=entry.name if entry.name is not None else whatsapp.name,
        ))
    return accounts


def _create(account: WhatsAppAccount) -> Channel:
    from openclaw.channels.whatsapp.channel import WhatsAppChannel

    return WhatsAppChannel(account)


CHANNEL: Final = ChannelSpec(
    name="whatsapp",
    label="WhatsApp",
    section=WhatsAppConfig,
    accounts=whatsapp_accounts,
    create=_create,
    capabilities=Capabilities(media=True, groups=True, login="qr"),
    credentials_dir=True,
    check=check_section,
    setup_hint=("add a channels.whatsapp section to openclaw.json, install the extra "
                "(pip install 'openclaw-gateway[whatsapp]') and run "
                "`openclaw channels login --channel whatsapp` (see docs/channels.md)"),
)
