"""The assistant loop: inbound channel messages answered by the agent, in the same chat.

Every stored inbound message is announced as a ``message`` event. When
``agents.defaults.replyToChannels`` is on, the agent runs on the chat's own session
and its reply is sent through ``send``. The run id comes from the message and the
reply's send key from the run id, so answering the same message again (after a
crash) finds the stored run and the stored send instead of posting twice. With the
loop off, messages are marked handled at once, so turning it on later does not
answer a backlog.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from openclaw.agent.runtime import AgentRuntime, Run
from openclaw.errors import OpenClawError
from openclaw.gateway.bus import EventBus
from openclaw.inbound import InboundMessage
from openclaw.store.db import DiskFull
from openclaw.store.inbox import Inbox

__all__ = ["Assistant"]

log = logging.getLogger("openclaw.gateway")


class Assistant:
    """Announces inbound messages and, when enabled, answers them with agent runs."""

    def __init__(self, agent: AgentRuntime, inbox: Inbox, bus: EventBus, *, reply: bool) -> None:
        self.agent = agent
        self.inbox = inbox
        self.bus = bus
        self.reply = reply

    def on_inbound(self, seq: int, message: InboundMessage) -> None:
        """A new message was stored under ``seq``: tell clients, then answer it."""
        self.bus.send_to_readers("message", {**message.to_event(), "seq": seq})
        if self.reply:
            self._answer(seq, message)
        else:
            self._mark_handled(seq)

    def _mark_handled(self, seq: int) -> None:
        try:
            self.inbox.mark_handled(seq)
        except DiskFull as exc:  # it stays unhandled: answered (again, once) at the next start
            log.warning("cannot mark message %d handled: %s", seq, exc.message)

    def answer_backlog(self) -> None:
        """Answer messages stored before a stop that were not answered yet."""
        if self.reply:
            for seq, message in self.inbox.unhandled():
                self._answer(seq, message)

    def _answer(self, seq: int, message: InboundMessage) -> None:
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
                    self._mark_handled(seq)
            found.final.add_done_callback(done)
        else:
            self._mark_handled(seq)
