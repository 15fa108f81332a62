"""The Telegram channel's declaration: its config section, accounts and registry entry.

``channels.telegram`` configures one bot (account ``default``) and more under
``accounts``; :func:`telegram_accounts` resolves tokens (``botToken``,
``botTokenFile`` or ``$TELEGRAM_BOT_TOKEN``) and inheritance from the top level.
This module stays cheap to import (config validation uses it); the Bot API client
is :mod:`openclaw.channels.telegram.bot`, imported when an account starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import msgspec

from openclaw.channels.access import AccessPolicy, DmPolicy, GroupPolicy
from openclaw.channels.registry import Capabilities, ChannelEnv, ChannelSpec
from openclaw.errors import ConfigError
from openclaw.schema import Section

if TYPE_CHECKING:
    from collections.abc import Mapping

    from openclaw.channels.base import Channel

__all__ = [
    "CHANNEL",
    "ENV_TOKEN",
    "TelegramAccount",
    "TelegramAccountConfig",
    "TelegramConfig",
    "telegram_accounts",
]

#: The environment variable that supplies the top-level ("default") bot's token.
ENV_TOKEN: Final = "TELEGRAM_BOT_TOKEN"
DEFAULT_ACCOUNT: Final = "default"
_NO_TOKEN = f"no bot token: set botToken, botTokenFile or {ENV_TOKEN}"

ChatId = int | str


class TelegramAccountConfig(Section, frozen=True):
    """One Telegram bot. Unset fields fall back to ``channels.telegram``'s."""

    enabled: bool = True
    bot_token: str | None = None
    bot_token_file: str | None = None
    api_root: str | None = None
    allow_from: tuple[ChatId, ...] | None = None
    dm_policy: DmPolicy | None = None
    group_policy: GroupPolicy | None = None
    poll_timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=50)] | None = None


class TelegramConfig(Section, frozen=True):
    """``channels.telegram``: the default bot, and more under ``accounts``."""

    enabled: bool = True
    bot_token: str | None = None
    bot_token_file: str | None = None
    api_root: str = "https://api.telegram.org"
    allow_from: tuple[ChatId, ...] = ()
    #: Direct messages from senders not in allowFrom: "pairing" offers them a code.
    dm_policy: DmPolicy = "pairing"
    #: Group messages: "allowlist" admits a group (or a sender) listed in allowFrom.
    group_policy: GroupPolicy = "allowlist"
    poll_timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=50)] = 25
    accounts: dict[str, TelegramAccountConfig] = msgspec.field(default_factory=dict)


def check_section(telegram: TelegramConfig, source: str | None) -> None:
    """Refuse a token given twice and an API root that is not an http(s) URL."""
    bots: list[tuple[str, TelegramConfig | TelegramAccountConfig]] = [("", telegram)]
    bots += list(telegram.accounts.items())
    for account_id, account in bots:
        prefix = "channels.telegram" + (f".accounts.{account_id}" if account_id else "")
        if account.bot_token and account.bot_token_file:
            raise ConfigError(source, f"{prefix}.botTokenFile",
                              "set botToken or botTokenFile, not both")
        if account.api_root is not None and not account.api_root.startswith(
                ("https://", "http://")):
            raise ConfigError(source, f"{prefix}.apiRoot",
                              f"must be an http(s) URL, got {account.api_root!r}")



@dataclass(frozen=True)
class TelegramAccount:
    """One bot as the gateway runs it: the resolved token and effective settings.

    ``allow_from`` holds user or chat ids as strings; ``"*"`` lets everyone in, and an
    empty set lets nobody in (inbound messages are then only logged and dropped).
    """

    account_id: str
    token: str = field(repr=False)
    token_source: str  # "config" | "file" | "env"
    api_root: str
    allow_from: frozenset[str]
    poll_timeout_s: int
    dm_policy: DmPolicy = "pairing"
    group_policy: GroupPolicy = "allowlist"

    @property
    def access(self) -> AccessPolicy:
        """allowFrom admits senders and chats (a group's id admits the whole group);
        other direct senders are handled by ``dm_policy``; no mention is required."""
        return AccessPolicy(dm_policy=self.dm_policy, allow_from=self.allow_from,
                            group_policy=self.group_policy, require_mention=False)

    def secrets(self) -> tuple[str, ...]:
        """The bot token."""
        return (self.token,)


def telegram_accounts(telegram: TelegramConfig, env: ChannelEnv) -> list[TelegramAccount]:
    """Resolve ``channels.telegram`` into the bot accounts to run.

    The top-level fields define account ``"default"``. It is included when it has a
    token (``botToken``, ``botTokenFile`` or ``$TELEGRAM_BOT_TOKEN``) or when there is
    no ``accounts`` section (a lone bot without a token is then an error). Each
    enabled ``accounts.<id>`` takes its token from its own ``botToken`` /
    ``botTokenFile`` only, and inherits ``apiRoot``, ``allowFrom`` and
    ``pollTimeoutSeconds`` from the top level when it leaves them unset.
    A relative ``botTokenFile`` is taken relative to the config file's directory.

    Raises:
        ConfigError: a token is missing, a token file cannot be read, or two accounts
            share one bot (Telegram lets only one poller per bot).
    """
    if not telegram.enabled:
        return []
    source, environ = env.source, env.environ
    prefix = "channels.telegram"
    accounts: list[TelegramAccount] = []
    resolved = _resolve_token(telegram, prefix, source, environ)
    if resolved is None and not telegram.accounts:
        raise ConfigError(source, f"{prefix}.botToken", _NO_TOKEN)
    if resolved is not None:
        if DEFAULT_ACCOUNT in telegram.accounts:
            raise ConfigError(
                source, f"{prefix}.accounts.{DEFAULT_ACCOUNT}",
                f'the top-level bot is already account "{DEFAULT_ACCOUNT}"; '
                "rename this account or remove the top-level token")
        token, token_source = resolved
        accounts.append(TelegramAccount(
            account_id=DEFAULT_ACCOUNT,
            token=token,
            token_source=token_source,
            api_root=telegram.api_root.rstrip("/"),
            allow_from=_allow_set(telegram.allow_from),
            poll_timeout_s=telegram.poll_timeout_seconds,
            dm_policy=telegram.dm_policy,
            group_policy=telegram.group_policy,
        ))
    for account_id, entry in telegram.accounts.items():
        if not entry.enabled:
            continue
        key = f"{prefix}.accounts.{account_id}"
        resolved = _resolve_token(entry, key, source, None)
        if resolved is None:
            raise ConfigError(source, f"{key}.botToken",
                              "no bot token: set botToken or botTokenFile")
        token, token_source = resolved
        accounts.append(TelegramAccount(
            account_id=account_id,
            token=token,
            token_source=token_source,
            api_root=(entry.api_root if entry.api_root is not None
                      else telegram.api_root).rstrip("/"),
            allow_from=_allow_set(entry.allow_from if entry.allow_from is not None
                                  else telegram.allow_from),
            poll_timeout_s=(entry.poll_timeout_seconds if entry.poll_timeout_seconds is not None
                            else telegram.poll_timeout_seconds),
            dm_policy=entry.dm_policy or telegram.dm_policy,
            group_policy=entry.group_policy or telegram.group_policy,
        ))
    seen: dict[str, str] = {}
    for account in accounts:
        other = seen.setdefault(account.token, account.account_id)
        if other != account.account_id:
            key = prefix if account.account_id == DEFAULT_ACCOUNT else (
                f"{prefix}.accounts.{account.account_id}")
            raise ConfigError(source, f"{key}.botToken",
                              f'the same bot as account "{other}" '
                              "(Telegram allows one poller per bot)")
    return accounts


def _resolve_token(
    section: TelegramConfig | TelegramAccountConfig,
    key: str,
    source: str | None,
    environ: Mapping[str, str] | None,
) -> tuple[str, str] | None:
    """``(token, source)`` from botToken, botTokenFile, then the environment."""
    if section.bot_token and section.bot_token.strip():
        return section.bot_token.strip(), "config"
    if section.bot_token_file:
        path = Path(section.bot_token_file).expanduser()
        if not path.is_absolute() and source:
            path = Path(source).expanduser().parent / path
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(source, f"{key}.botTokenFile",
                              f"cannot read {path}: {reason}") from None
        if not token:
            raise ConfigError(source, f"{key}.botTokenFile", f"cannot read {path}: file is empty")
        return token, "file"
    if environ is not None:
        token = (environ.get(ENV_TOKEN) or "").strip()
        if token:
            return token, "env"
    return None


def _allow_set(values: tuple[int | str, ...]) -> frozenset[str]:
    return frozenset(text for text in (str(value).strip() for value in values) if text)


def _create(account: TelegramAccount) -> Channel:
    from openclaw.channels.telegram.bot import TelegramChannel

    return TelegramChannel(account)


CHANNEL: Final = ChannelSpec(
    name="telegram",
    label="Telegram",
    section=TelegramConfig,
    accounts=telegram_accounts,
    create=_create,
    capabilities=Capabilities(media=True, groups=False, login=None),
    secret_env=(ENV_TOKEN,),
    secret_keys=("botToken",),
    check=check_section,
    setup_hint=(f"set {ENV_TOKEN} in the gateway's environment, or channels.telegram.botToken "
                "in openclaw.json (see docs/channels.md)"),
)
