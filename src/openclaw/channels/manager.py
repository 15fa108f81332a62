"""Every configured channel account, under its supervisor, as the gateway sees them.

Built once at start from the config. It resolves ``send``'s ``channel``/``accountId``
(naming what is configured when a request names something else), stores inbound
messages through the inbox before anyone is told about them, and assembles the
``channels.status`` and ``health`` views.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from openclaw.channels.base import Channel, InboundMessage
from openclaw.channels.supervisor import ChannelSupervisor
from openclaw.clock import now_ms
from openclaw.config import Config
from openclaw.errors import ConfigError, UsageError
from openclaw.store.inbox import Inbox

__all__ = ["CHANNEL_LABELS", "ChannelManager", "build_channels", "check_channels"]

log = logging.getLogger("openclaw.channels")

CHANNEL_LABELS = {"telegram": "Telegram"}


def build_channels(config: Config, source: str | None, environ: Mapping[str, str]
                   ) -> list[Channel]:
    """Channel objects for every enabled, configured account (raises ConfigError)."""
    channels: list[Channel] = []
    if config.channels.telegram is not None:
        from openclaw.channels.telegram import TelegramChannel, telegram_accounts

        channels += [TelegramChannel(account)
                     for account in telegram_accounts(config, source, environ)]
    return channels


def check_channels(config: Config, source: str | None, environ: Mapping[str, str]) -> int:
    """Resolve every channel account (tokens, token files, duplicates) and the default
    model's provider as the gateway will at start, without touching the network;
    return how many accounts. Raises ConfigError."""
    count = 0
    if config.channels.telegram is not None:
        from openclaw.channels.telegram import telegram_accounts

        count += len(telegram_accounts(config, source, environ))
    from openclaw.agent.providers.registry import build_provider, parse_model_ref

    try:  # the default model too: a gateway without a usable one refuses to start
        build_provider(parse_model_ref(config.agents.defaults.model)[0], config, environ)
    except ValueError as exc:
        raise ConfigError(source, "agents.defaults.model", str(exc)) from None
    return count


class ChannelManager:
    """The supervisors of all channel accounts."""

    def __init__(self, channels: list[Channel], inbox: Inbox,
                 on_inbound: Callable[[int, InboundMessage], None]) -> None:
        self.inbox = inbox
        self.on_inbound = on_inbound
        self.supervisors: dict[tuple[str, str], ChannelSupervisor] = {}
        self.order: list[str] = []
        self.on_change: Callable[[], None] = lambda: None  # an account (dis)connected
        for channel in channels:
            key = (channel.name, channel.account_id)
            supervisor = ChannelSupervisor(channel, self._cursor_of(key), self._sink)
            supervisor.on_change = lambda: self.on_change()
            self.supervisors[key] = supervisor
            if channel.name not in self.order:
                self.order.append(channel.name)

    def connection_states(self) -> tuple[tuple[str, str, bool], ...]:
        """``(channel, account, connected)`` of every account, for change detection."""
        return tuple((*key, s.connected) for key, s in self.supervisors.items())

    def _cursor_of(self, key: tuple[str, str]) -> Callable[[], str | None]:
        return lambda: self.inbox.cursor(*key)

    async def _sink(self, channel: Channel, messages: list[InboundMessage],
                    cursor: str | None) -> None:
        fresh = self.inbox.store(channel.name, channel.account_id, messages, cursor)
        for seq, message in fresh:
            log.info("message %s from %s in %s/%s chat %s", message.message_id, message.sender,
                     channel.name, channel.account_id, message.chat_id)
            self.on_inbound(seq, message)

    def start_all(self) -> None:
        """Start every supervisor (each connects in the background)."""
        for supervisor in self.supervisors.values():
            supervisor.start()

    async def stop_all(self, timeout_s: float = 5.0) -> None:
        """Stop every supervisor."""
        import asyncio

        await asyncio.gather(*(s.stop(timeout_s) for s in self.supervisors.values()))

    @property
    def all_started(self) -> bool:
        """True once every configured account has connected at least once."""
        return all(s.started.is_set() for s in self.supervisors.values())

    def accounts(self, channel: str) -> list[str]:
        """Account ids of ``channel``, the default first."""
        ids = [account for name, account in self.supervisors if name == channel]
        return sorted(ids, key=lambda a: (a != "default", a))

    def resolve(self, channel: str | None, account: str | None) -> ChannelSupervisor:
        """The supervisor a request names (default channel and account when omitted).

        Raises:
            UsageError: no channel configured, or an unknown channel/account (the
                message lists what is configured).
        """
        if not self.order:
            raise UsageError("no channel is configured: add channels.telegram.botToken to "
                             "openclaw.json (see docs/channels.md)")
        name = (channel or self.order[0]).strip().lower()
        if name not in self.order:
            raise UsageError(f"unsupported channel: {channel!r} "
                             f"(configured: {', '.join(self.order)})")
        ids = self.accounts(name)
        account_id = account or ids[0]
        supervisor = self.supervisors.get((name, account_id))
        if supervisor is None:
            raise UsageError(f"unknown {name} account: {account!r} (accounts: {', '.join(ids)})")
        return supervisor

    def status_payload(self) -> dict[str, Any]:
        """The ``channels.status`` result."""
        channels: dict[str, Any] = {}
        accounts: dict[str, list[dict[str, Any]]] = {}
        defaults: dict[str, str] = {}
        for name in self.order:
            snapshots = [self.supervisors[(name, a)].snapshot() for a in self.accounts(name)]
            accounts[name] = snapshots
            defaults[name] = snapshots[0]["accountId"]
            channels[name] = {
                "configured": True,
                "running": any(s["running"] for s in snapshots),
                "connected": all(s["connected"] for s in snapshots),
                "lastError": next((s["lastError"] for s in snapshots if s["lastError"]), None),
            }
        return {
            "ts": now_ms(),
            "channelOrder": list(self.order),
            "channelLabels": {name: CHANNEL_LABELS.get(name, name) for name in self.order},
            "channels": channels,
            "channelAccounts": accounts,
            "channelDefaultAccountId": defaults,
        }
