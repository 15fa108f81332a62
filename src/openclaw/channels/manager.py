"""Every configured channel account, under its supervisor, as the gateway sees them.

Built once at start from the validated config through the channel registry: each
configured ``channels.<name>`` section resolves into accounts, each account into a
running channel under a :class:`ChannelSupervisor`. The manager resolves ``send``'s
``channel``/``accountId`` (naming what is configured when a request names something
else), stores inbound messages through the inbox before anyone is told about them,
and assembles the ``channels.status`` and ``health`` views. Nothing here names a
particular channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from openclaw.channels.access import AccessPolicy
from openclaw.channels.base import Channel, LoginChannel
from openclaw.channels.registry import (
    REGISTERED,
    Account,
    ChannelEnv,
    ChannelSpec,
    all_specs,
    get_spec,
)
from openclaw.channels.supervisor import ChannelSupervisor
from openclaw.clock import now_ms
from openclaw.errors import UsageError
from openclaw.inbound import InboundMessage
from openclaw.store.inbox import Inbox
from openclaw.store.pairing import PairingRequest, PairingStore

__all__ = ["ChannelListener", "ChannelManager", "ConfiguredAccount", "configured_accounts"]

log = logging.getLogger("openclaw.channels")


@dataclass(frozen=True)
class ConfiguredAccount:
    """One account the config asks for, with the spec of its channel."""

    spec: ChannelSpec[Any, Any]
    account: Account


def configured_accounts(sections: Mapping[str, Any], env: ChannelEnv
                        ) -> list[ConfiguredAccount]:
    """Resolve the validated ``channels`` sections into accounts, without touching the
    network (tokens, token files, duplicates). Raises ConfigError."""
    found: list[ConfiguredAccount] = []
    for name in REGISTERED:  # registry order is display order
        section = sections.get(name)
        if section is not None:
            spec = get_spec(name)
            found += [ConfiguredAccount(spec, account) for account in spec.resolve(section, env)]
    return found


class ChannelListener(Protocol):
    """Who the manager tells about inbound messages and connection changes."""

    def on_inbound(self, seq: int, message: InboundMessage) -> None:
        """A new message was stored in the inbox under ``seq``."""

    def on_channels_changed(self) -> None:
        """An account connected or disconnected."""

    def on_pairing_request(self, request: PairingRequest) -> None:
        """An unknown sender asked to talk: tell them their one-time code."""


class _Nobody:
    def on_inbound(self, seq: int, message: InboundMessage) -> None:
        pass

    def on_channels_changed(self) -> None:
        pass

    def on_pairing_request(self, request: PairingRequest) -> None:
        pass


class ChannelManager:
    """The supervisors of all channel accounts."""

    def __init__(self, channels: list[Channel], inbox: Inbox, *,
                 access: Mapping[tuple[str, str], AccessPolicy] | None = None,
                 pairing: PairingStore | None = None) -> None:
        self.inbox = inbox
        self.pairing = pairing or PairingStore(inbox.db)
        #: Per account; an account without an entry lets everyone in (tests, stand-ins).
        self.access: dict[tuple[str, str], AccessPolicy] = dict(access or {})
        self.supervisors: dict[tuple[str, str], ChannelSupervisor] = {}
        self.specs: dict[str, ChannelSpec[Any, Any]] = {}
        self._listener: ChannelListener = _Nobody()
        for channel in channels:
            key = (channel.name, channel.account_id)
            self.supervisors[key] = ChannelSupervisor(
                channel, self._cursor_of(key), self._sink, on_change=self._changed)
            self.specs.setdefault(channel.name, channel.spec)

    @classmethod
    def from_accounts(cls, accounts: list[ConfiguredAccount], inbox: Inbox,
                      pairing: PairingStore | None = None) -> ChannelManager:
        """A manager running every configured account (creates the channel objects)."""
        return cls([item.spec.create(item.account) for item in accounts], inbox,
                   access={(item.spec.name, item.account.account_id): item.account.access
                           for item in accounts},
                   pairing=pairing)

    @property
    def order(self) -> list[str]:
        """Names of the channels with accounts, in display order."""
        return list(self.specs)

    def connection_states(self) -> tuple[tuple[str, str, bool], ...]:
        """``(channel, account, connected)`` of every account, for change detection."""
        return tuple((*key, s.connected) for key, s in self.supervisors.items())

    def _cursor_of(self, key: tuple[str, str]) -> Callable[[], str | None]:
        return lambda: self.inbox.cursor(*key)

    def _changed(self) -> None:
        self._listener.on_channels_changed()

    def _admit(self, channel: Channel, messages: list[InboundMessage]) -> list[InboundMessage]:
        """The messages the account's access policy lets through; offers pairing codes."""
        policy = self.access.get((channel.name, channel.account_id))
        if policy is None:
            return messages
        admitted = []
        for message in messages:
            approved = self.pairing.is_approved(channel.name, channel.account_id,
                                                message.sender)
            decision = policy.decide(message, approved)
            if decision.action == "accept":
                admitted.append(message)
                continue
            log.info("ignored message from %s in %s/%s chat %s: %s", message.sender,
                     channel.name, channel.account_id, message.chat_id, decision.reason)
            if decision.action == "pair":
                request = self.pairing.request(channel.name, channel.account_id,
                                               message.sender, message.chat_id,
                                               message.sender_name)
                if request is not None:
                    log.info("pairing request %s/%s from %s (code sent to the sender)",
                             channel.name, channel.account_id, message.sender)
                    self._listener.on_pairing_request(request)
        return admitted

    async def _sink(self, channel: Channel, messages: list[InboundMessage],
                    cursor: str | None) -> None:
        messages = self._admit(channel, messages)
        fresh = self.inbox.store(channel.name, channel.account_id, messages, cursor)
        for seq, message in fresh:
            log.info("message %s from %s in %s/%s chat %s", message.message_id, message.sender,
                     channel.name, channel.account_id, message.chat_id)
            self._listener.on_inbound(seq, message)

    def attach(self, listener: ChannelListener) -> None:
        """Tell ``listener`` about inbound messages and connection changes from now on."""
        self._listener = listener

    def start_all(self) -> None:
        """Start every supervisor (each connects in the background)."""
        for supervisor in self.supervisors.values():
            supervisor.start()

    async def stop_all(self, timeout_s: float = 5.0) -> None:
        """Stop every supervisor."""
        await asyncio.gather(*(s.stop(timeout_s) for s in self.supervisors.values()))

    @property
    def all_started(self) -> bool:
        """True once every configured account has connected at least once (an account
        parked until a login is not waited for: it needs a person, not time)."""
        return all(s.started.is_set() or s.logged_out for s in self.supervisors.values())

    def waiting_for(self) -> list[str]:
        """``channel/account`` of every account that has not connected yet."""
        return [f"{name}/{account}" for (name, account), s in self.supervisors.items()
                if not s.started.is_set() and not s.logged_out]

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
        if not self.specs:
            hints = "; ".join(spec.setup_hint for spec in all_specs() if spec.setup_hint)
            raise UsageError(f"no channel is configured: {hints}")
        name = (channel or self.order[0]).strip().lower()
        if name not in self.specs:
            raise UsageError(f"unsupported channel: {channel!r} "
                             f"(configured: {', '.join(self.order)})")
        ids = self.accounts(name)
        account_id = account or ids[0]
        supervisor = self.supervisors.get((name, account_id))
        if supervisor is None:
            raise UsageError(f"unknown {name} account: {account!r} (accounts: {', '.join(ids)})")
        return supervisor

    def login_channel(self, channel: str | None, account: str | None
                      ) -> tuple[ChannelSupervisor, LoginChannel]:
        """The supervisor and channel of an account linked by a login flow.

        Without ``channel``: the first configured channel that has one.

        Raises:
            UsageError: no such account, or its channel has no login flow.
        """
        if channel is None:
            channel = next((name for name, spec in self.specs.items()
                            if spec.capabilities.login), None)
            if channel is None:
                raise UsageError("no configured channel is linked by a login "
                                 "(configure channels.whatsapp first)")
        supervisor = self.resolve(channel, account)
        if not supervisor.channel.spec.capabilities.login:
            raise UsageError(f"{supervisor.channel.name} accounts have no login flow "
                             "(their credentials come from the config)")
        login: LoginChannel = supervisor.channel  # type: ignore[assignment]
        return supervisor, login

    def status_payload(self) -> dict[str, Any]:
        """The ``channels.status`` result."""
        channels: dict[str, Any] = {}
        accounts: dict[str, list[dict[str, Any]]] = {}
        defaults: dict[str, str] = {}
        for name, spec in self.specs.items():
            snapshots = [self.supervisors[(name, a)].snapshot() for a in self.accounts(name)]
            accounts[name] = snapshots
            defaults[name] = snapshots[0]["accountId"]
            channels[name] = {
                "configured": True,
                "running": any(s["running"] for s in snapshots),
                "connected": all(s["connected"] for s in snapshots),
                "lastError": next((s["lastError"] for s in snapshots if s["lastError"]), None),
                "capabilities": spec.capabilities.to_wire(),
            }
        return {
            "ts": now_ms(),
            "channelOrder": self.order,
            "channelLabels": {name: spec.label for name, spec in self.specs.items()},
            "channels": channels,
            "channelAccounts": accounts,
            "channelDefaultAccountId": defaults,
        }

    def summary_lines(self) -> list[str]:
        """One line per account, e.g. ``telegram/default: connected (@bot)``."""
        lines = []
        for (name, account), supervisor in self.supervisors.items():
            snap = supervisor.snapshot()
            state = "connected" if snap["connected"] else (
                str(snap["lastError"]) if supervisor.logged_out else
                f"disconnected ({snap['lastError']})" if snap["lastError"] else "connecting")
            bot = f" (@{snap['bot']})" if snap.get("bot") else ""
            lines.append(f"{name}/{account}: {state}{bot}")
        return lines
