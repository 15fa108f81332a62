"""Channels, the send ledger and the inbox, started and stopped as one part.

Built before the gateway listens, so a channel config error exits 78 and a broken
database exits with its path, before any client is accepted. Started once the
port is open: the ledger recovers from a crash, queued sends resume, channels
connect in the background. Stopped first at shutdown, so sends in progress can
finish within the drain budget.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from openclaw.agent.runtime import AgentRuntime, Run
from openclaw.agent.store import RunStore, SessionStore
from openclaw.channels.base import InboundMessage
from openclaw.channels.manager import ChannelManager, build_channels
from openclaw.clock import now_ms
from openclaw.config import Config, parse_duration_ms
from openclaw.errors import ConfigError, OpenClawError
from openclaw.gateway.sending import SendService
from openclaw.paths import Profile
from openclaw.store.db import Checkpointer, open_database
from openclaw.store.inbox import Inbox
from openclaw.store.ledger import Ledger

__all__ = ["Messaging"]

log = logging.getLogger("openclaw.gateway")


class Messaging:
    """The gateway's messaging part: database, channel supervisors, send service."""

    def __init__(self, config: Config, source: str | None, profile: Profile) -> None:
        channels = build_channels(config, source, os.environ)
        self.secrets: list[str] = [
            token for c in channels
            if isinstance(token := getattr(getattr(c, "account", None), "token", None), str)]
        for provider in config.models.providers.values():  # model API keys, too
            key = provider.api_key or (os.environ.get(provider.api_key_env or "") or None)
            if key:
                self.secrets.append(key)
        self.secrets += [os.environ[name] for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
                         if os.environ.get(name)]
        self.db_path = profile.state_dir / "gateway.db"
        self.db = open_database(self.db_path)
        self.checkpointer = Checkpointer(self.db_path)
        self.ledger = Ledger(self.db)
        self.inbox = Inbox(self.db)
        self.on_message: Callable[[dict[str, Any]], None] = lambda event: None
        self.channels = ChannelManager(channels, self.inbox, self._inbound)
        messages = config.messages
        self.inbox_retention_ms = parse_duration_ms(messages.inbox_retention)
        self.sends = SendService(self.ledger, self.channels,
                                 timeout_ms=parse_duration_ms(messages.send_timeout),
                                 retention_ms=parse_duration_ms(messages.retention))
        self.on_agent_event: Callable[[dict[str, Any]], None] = lambda event: None
        self.agent = AgentRuntime(RunStore(self.db), SessionStore(self.db), config, os.environ,
                                  lambda event: self.on_agent_event(event),
                                  deliver=self._deliver if self.channels.order else None)
        self.reply_to_channels = config.agents.defaults.reply_to_channels
        try:  # the default model must be usable before any run is accepted
            self.agent.provider_for(config.agents.defaults.model)
        except OpenClawError as exc:
            self.db.close()
            raise ConfigError(source, "agents.defaults.model", exc.message) from None
        self._prune_task: asyncio.Task[None] | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None

    def _inbound(self, seq: int, message: InboundMessage) -> None:
        self.on_message({**message.to_event(), "seq": seq})
        if self.reply_to_channels:
            self._answer(seq, message)
        else:  # not for the assistant: turning it on later must not answer a backlog
            self.inbox.mark_handled(seq)

    async def _deliver(self, key: str, to: str, text: str, channel: str | None,
                       account: str | None) -> dict[str, Any]:
        result: dict[str, Any] = await self.sends.send(key, to, text, (), channel, account)
        return result

    def _answer(self, seq: int, message: InboundMessage) -> None:
        """The assistant loop: run the agent on the chat's session and reply there.

        The run id comes from the message, and the reply's send key from the run id,
        so answering the same message again (after a crash) finds the stored run and
        the stored send instead of posting twice.
        """
        run_id = (f"inbound:{message.channel}:{message.account_id}:{message.chat_id}:"
                  f"{message.message_id}")
        session = f"{message.channel}:{message.account_id}:{message.chat_id}"
        try:
            _, found = self.agent.submit(
                run_id, message.text, session_key=session, resumable=True,
                deliver=(message.chat_id, message.channel, message.account_id))
        except OpenClawError as exc:
            log.error("cannot answer message %s in %s: %s", message.message_id, session,
                      exc.message)
            return
        if isinstance(found, Run):
            def done(final: asyncio.Future[dict[str, Any]]) -> None:
                # A run cut short by a stop is answered again after the next start.
                if not (self.agent.stopping and final.result().get("status") != "ok"):
                    self.inbox.mark_handled(seq)
            found.final.add_done_callback(done)
        else:
            self.inbox.mark_handled(seq)

    @property
    def ready(self) -> bool:
        """Every configured channel account has connected at least once."""
        return self.channels.all_started

    def start(self) -> None:
        """Recover the ledger and the runs, resume queued sends, answer messages that
        arrived before a stop, start channels and pruning."""
        self.sends.resume()
        if self.reply_to_channels:  # first: their runs start again rather than fail
            for seq, message in self.inbox.unhandled():
                self._answer(seq, message)
        recovered = self.agent.recover()
        if recovered:
            log.info("agent: %d run(s) from the previous process ended as interrupted",
                     recovered)
        self.channels.start_all()
        self.sends.start_pruning()

        async def prune_inbox() -> None:
            while True:
                self.inbox.prune(now_ms() - self.inbox_retention_ms)
                self.agent.runs.prune(now_ms() - self.sends.retention_ms)
                await asyncio.sleep(3600)
        self._prune_task = asyncio.get_running_loop().create_task(prune_inbox())
        self._checkpoint_task = asyncio.get_running_loop().create_task(self.checkpointer.run())

    async def shutdown(self, drain_s: float) -> None:
        """Finish sends in progress (bounded) and stop the channels. The database stays
        open until :meth:`close`, for requests still arriving while clients are told."""
        if self._prune_task is not None:
            self._prune_task.cancel()
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
        started = asyncio.get_running_loop().time()
        await self.agent.shutdown(drain_s / 2)
        left = max(0.5, drain_s - (asyncio.get_running_loop().time() - started))
        await self.sends.shutdown(left)
        await self.channels.stop_all(timeout_s=min(5.0, max(0.5, drain_s)))

    def close(self) -> None:
        """Close the database (after the last client has gone)."""
        self.checkpointer.close()
        self.db.close()

    def health(self) -> dict[str, Any]:
        """Per-channel summary for the ``health`` snapshot."""
        payload = self.channels.status_payload()
        return {
            "channels": {name: {**summary, "accounts": {
                snap["accountId"]: snap for snap in payload["channelAccounts"][name]}}
                for name, summary in payload["channels"].items()},
            "channelOrder": payload["channelOrder"],
            "channelLabels": payload["channelLabels"],
            "outbox": self.ledger.counts(),
        }
