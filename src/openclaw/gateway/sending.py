"""``send``: durable, idempotent delivery through the ledger and the channels.

Per idempotency key, exactly one delivery task exists in this process; every
request with that key (concurrent, repeated, or after a reconnect) waits for the
same outcome. Before any network call the key is committed as ``attempting``, so
a crash leaves evidence and a retry is told "outcome unknown" rather than sending
a second copy. Transient failures (the network, 5xx, 429 with its ``retry_after``)
are retried from the outbox with backoff until the send deadline; queued keys
survive a restart and are resumed at start.

A full disk: a new key is refused (retryable ``UNAVAILABLE``) before anything is
sent, since it cannot be recorded. An outcome that cannot be written after the call
(the disk filled meanwhile) is answered from memory and written once space returns;
if the gateway stops first, the row is left ``attempting`` and becomes ``unknown``,
so the message is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from openclaw.backoff import Backoff
from openclaw.channels.base import ChannelError, OutboundMessage
from openclaw.channels.manager import ChannelManager
from openclaw.channels.supervisor import ChannelSupervisor
from openclaw.clock import now_ms
from openclaw.errors import OpenClawError
from openclaw.protocol.errors import WireError, error_object
from openclaw.store.db import DiskFull
from openclaw.store.ledger import Ledger, SendRecord

__all__ = ["SendService"]

log = logging.getLogger("openclaw.send")

_OUTCOME_UNKNOWN = {"reason": "outcome-unknown"}
#: Channel calls in flight per account; more wait their turn (chat networks rate-limit
#: per bot, and a burst of thousands of sockets helps nobody).
CALLS_PER_ACCOUNT = 4
#: How often outcomes that could not be written (a full disk) are tried again.
UNRECORDED_RETRY_S = 1.0


class SendService:
    """Accepts ``send`` requests and sees each key through to one final outcome."""

    def __init__(self, ledger: Ledger, channels: ChannelManager, *, timeout_ms: int,
                 retention_ms: int, backoff: Backoff | None = None) -> None:
        self.ledger = ledger
        self.channels = channels
        self.timeout_ms = timeout_ms
        self.retention_ms = retention_ms
        #: Retry delays; ``delay(n)`` only, so one object serves every key's loop.
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.calling: set[str] = set()  # keys with a channel call in progress
        self._gates: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._prune_task: asyncio.Task[None] | None = None
        #: key → (state, result or error) of outcomes not written yet (a full disk).
        self.unrecorded: dict[str, tuple[str, dict[str, Any]]] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self.stopping = False

    # ------------------------------------------------------------------ requests

    async def deliver_text(self, key: str, to: str, text: str, channel: str | None,
                           account: str | None) -> dict[str, Any]:
        """Send a text reply (the agent's ``deliver``); same guarantees as :meth:`send`."""
        return await self.send(key, to, text, (), channel, account)

    async def send(self, key: str, to: str, text: str, media: tuple[str, ...],
                   channel: str | None, account: str | None) -> dict[str, Any]:
        """The result for ``key``: delivered now, or the stored outcome of an earlier try."""
        future = self.pending.get(key)
        if future is None and key in self.unrecorded:
            return self._remembered(key)
        if future is None:
            record = self.ledger.get(key)
            if record is not None:
                return self._stored(record)
            if self.stopping:
                raise WireError("UNAVAILABLE", "the gateway is stopping; retry with the same "
                                   "idempotencyKey after it restarts", retryable=True)
            supervisor = self.channels.resolve(channel, account)
            chat_id = supervisor.channel.normalize_target(to)
            request = {"to": to, "text": text, "media": list(media)}
            deadline = now_ms() + self.timeout_ms
            gate = self._gate(supervisor)
            held = not gate.locked()
            if held:  # a free slot: taken at once (no other task runs in between)
                await gate.acquire()
            try:
                fresh = self.ledger.begin(key, supervisor.channel.name,
                                          supervisor.channel.account_id, chat_id, request,
                                          deadline, attempting=held)
            except BaseException:
                if held:
                    gate.release()
                raise
            if not fresh:
                if held:
                    gate.release()
                record = self.ledger.get(key)  # raced by another process? answer what it has
                assert record is not None
                return self._stored(record)
            future = self._track(key)
            self.tasks[key] = asyncio.get_running_loop().create_task(
                self._deliver(key, supervisor, OutboundMessage(chat_id, text, media), deadline,
                              held=held),
                name=f"send {key[:40]}")
        return await asyncio.shield(future)

    def _track(self, key: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        self.pending[key] = future
        return future

    @staticmethod
    def _stored(record: SendRecord) -> dict[str, Any]:
        if record.state == "sent" and record.result is not None:
            return record.result
        if record.state in ("failed", "unknown") and record.error is not None:
            raise WireError.from_wire(record.error)
        raise WireError("UNAVAILABLE", f"send {record.key} is still {record.state}",
                           retryable=True)

    def _remembered(self, key: str) -> dict[str, Any]:
        state, outcome = self.unrecorded[key]
        if state == "sent":
            return outcome
        raise WireError.from_wire(outcome)

    # ------------------------------------------------------------------ outcomes

    def _record(self, key: str, state: str, outcome: dict[str, Any]) -> None:
        """Write a final outcome; on a full disk keep it in memory and retry later."""
        try:
            self._write(key, state, outcome)
        except DiskFull as exc:
            log.warning("send %s: %s; its outcome (%s) is kept in memory until it can be "
                        "written", key, exc.message, state)
            self.unrecorded[key] = (state, outcome)
            if self._flush_task is None or self._flush_task.done():
                self._flush_task = asyncio.get_running_loop().create_task(
                    self._flush(), name="send outcomes")

    def _write(self, key: str, state: str, outcome: dict[str, Any]) -> None:
        if state == "sent":
            self.ledger.sent(key, outcome)
        elif state == "failed":
            self.ledger.failed(key, outcome)
        else:
            self.ledger.unknown(key, outcome)

    async def _flush(self) -> None:
        """Write the outcomes kept in memory, oldest first, once the disk has room."""
        while self.unrecorded:
            await asyncio.sleep(UNRECORDED_RETRY_S)
            for key, (state, outcome) in list(self.unrecorded.items()):
                try:
                    self._write(key, state, outcome)
                except DiskFull:
                    break
                del self.unrecorded[key]
            else:
                log.info("send outcomes kept in memory are written")

    # ------------------------------------------------------------------ delivery

    def _settle(self, key: str, result: dict[str, Any] | None = None,
                error: dict[str, Any] | None = None) -> None:
        future = self.pending.pop(key, None)
        self.tasks.pop(key, None)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(WireError.from_wire(error))
        else:
            assert result is not None
            future.set_result(result)

    def _gate(self, supervisor: ChannelSupervisor) -> asyncio.Semaphore:
        channel = supervisor.channel
        return self._gates.setdefault((channel.name, channel.account_id),
                                      asyncio.Semaphore(CALLS_PER_ACCOUNT))

    async def _deliver(self, key: str, supervisor: ChannelSupervisor, message: OutboundMessage,
                       deadline_ms: int, *, wait_ms: int = 0, held: bool = False) -> None:
        """Call the channel until a final outcome. ``held``: the caller already took a
        slot and recorded the key as ``attempting`` for this first call.

        ``deadline_ms`` is wall-clock (it is stored, for a restart); within this process
        it becomes a monotonic deadline, so a wall-clock jump neither cuts the retries
        short nor stretches them.
        """
        until = time.monotonic() + max(0, deadline_ms - now_ms()) / 1000
        channel = supervisor.channel
        gate = self._gate(supervisor)
        attempt = 0
        while True:
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
            attempt += 1
            if not held:
                await gate.acquire()
            recorded, held = held, False
            try:
                if self.stopping:  # leave it queued: resumed at the next start, never cut
                    if recorded:
                        with contextlib.suppress(DiskFull):  # else unknown at next start
                            self.ledger.requeue(key)
                    return
                if not recorded:
                    try:
                        self.ledger.attempt(key)  # committed before the call: evidence of it
                    except DiskFull as exc:  # no evidence, no call: wait for space
                        outcome = self._unrecordable(key, exc, attempt, until)
                        if outcome is None:
                            return
                        wait_ms = outcome
                        continue
                self.calling.add(key)
                try:
                    receipt = await channel.send(message)
                except ChannelError as exc:
                    outcome = self._failed(key, channel.name, exc, attempt, until)
                    if outcome is None:
                        return
                    wait_ms = outcome
                    continue
                except asyncio.CancelledError:
                    raise  # shutdown: the row stays attempting, unknown at the next start
                except Exception as exc:
                    log.exception("send %s failed", key)
                    error = error_object(
                        "UNAVAILABLE", f"{channel.name}: {type(exc).__name__}: {exc}",
                        _OUTCOME_UNKNOWN)
                    self._record(key, "unknown", error)
                    self._settle(key, error=error)
                    return
                finally:
                    self.calling.discard(key)
            finally:
                gate.release()
            result = {"runId": key, "messageId": receipt.message_id, "channel": channel.name,
                      "chatId": receipt.chat_id, "accountId": channel.account_id, **receipt.extra}
            self._record(key, "sent", result)
            supervisor.last_outbound_at = now_ms()
            self._settle(key, result=result)
            return

    def _failed(self, key: str, channel: str, exc: ChannelError, attempt: int,
                until: float) -> int | None:
        """Record a failed call: the delay before the next try, or None when final
        (``until``: the send deadline on the monotonic clock)."""
        wait_ms = int(self.backoff.delay(attempt - 1, exc.retry_after_s) * 1000)
        error = error_object("UNAVAILABLE", f"{channel}: {exc.message}",
                             {"channel": channel, "status": exc.status})
        if exc.maybe_delivered:
            error["details"] = {**_OUTCOME_UNKNOWN, "channel": channel, "cause": exc.message}
            error["message"] = (f"{channel}: {exc.message}; it is not sent again, to avoid a "
                                "duplicate")
            self._record(key, "unknown", error)
            self._settle(key, error=error)
            return None
        if exc.transient and time.monotonic() + wait_ms / 1000 < until:
            log.warning("send %s: %s; retrying in %d ms", key, exc.message, wait_ms)
            with contextlib.suppress(DiskFull):  # left attempting: never resent after a stop
                self.ledger.queue(key, now_ms() + wait_ms, error)
            return wait_ms
        if exc.transient:
            error["message"] += " (gave up at the send deadline)"
        else:
            error["code"] = "INVALID_REQUEST"
        self._record(key, "failed", error)
        self._settle(key, error=error)
        return None

    def _unrecordable(self, key: str, exc: DiskFull, attempt: int,
                      until: float) -> int | None:
        """A retry could not be recorded (a full disk), so it was not made: the delay
        before trying again, or None once the send deadline is reached."""
        wait_ms = int(self.backoff.delay(attempt - 1) * 1000)
        if time.monotonic() + wait_ms / 1000 < until:
            log.warning("send %s: %s; retrying in %d ms", key, exc.message, wait_ms)
            return wait_ms
        error = error_object("UNAVAILABLE", f"not sent before the send deadline: {exc.message}",
                             {"reason": "disk-full"})
        self._record(key, "failed", error)
        self._settle(key, error=error)
        return None

    # ------------------------------------------------------------------ lifecycle

    def resume(self) -> tuple[int, int]:
        """At start: in-progress keys of a dead process become unknown; queued keys
        within their deadline are retried, the rest failed. Returns (resumed, unknown)."""
        unknown = self.ledger.recover()
        resumed = 0
        for record in self.ledger.queued():
            if record.deadline_ms <= now_ms():
                self.ledger.failed(record.key, record.error or error_object(
                    "UNAVAILABLE", "not delivered before the send deadline"))
                continue
            try:
                supervisor = self.channels.resolve(record.channel, record.account_id)
            except OpenClawError as exc:
                self.ledger.failed(record.key, error_object("INVALID_REQUEST", exc.message))
                continue
            request = record.request
            message = OutboundMessage(record.chat_id, str(request.get("text", "")),
                                      tuple(request.get("media", [])))
            self._track(record.key)
            self.tasks[record.key] = asyncio.get_running_loop().create_task(self._deliver(
                record.key, supervisor, message, record.deadline_ms,
                wait_ms=max(0, record.next_attempt_ms - now_ms())))
            resumed += 1
        if unknown or resumed:
            log.info("outbox: %d send(s) resumed, %d marked outcome-unknown", resumed, unknown)
        return resumed, unknown

    def start_pruning(self, every_s: float = 600.0) -> None:
        """Forget finished keys older than the retention, now and periodically."""
        async def prune() -> None:
            while True:
                try:
                    removed = self.ledger.prune(now_ms() - self.retention_ms)
                except DiskFull as exc:  # the next round tries again
                    log.warning("ledger: cannot prune: %s", exc.message)
                    removed = 0
                if removed:
                    log.info("ledger: pruned %d finished send(s)", removed)
                await asyncio.sleep(every_s)
        self._prune_task = asyncio.get_running_loop().create_task(prune(), name="ledger prune")

    async def shutdown(self, drain_s: float) -> None:
        """Let channel calls in progress finish within ``drain_s``; queued keys stay
        queued (resumed at the next start), unfinished calls become unknown then."""
        self.stopping = True
        if self._prune_task is not None:
            self._prune_task.cancel()
        if self._flush_task is not None:
            self._flush_task.cancel()
        calling = [self.tasks[k] for k in list(self.calling) if k in self.tasks]
        if calling:
            log.info("waiting up to %.1fs for %d send(s) in progress", drain_s, len(calling))
            await asyncio.wait(calling, timeout=drain_s)
        idle = [key for key in self.tasks if key not in self.calling]
        for task in list(self.tasks.values()):
            task.cancel()
        for key in idle:  # recorded as attempting but never called: safe to resume
            with contextlib.suppress(DiskFull):  # else unknown at the next start
                self.ledger.requeue(key)
        for key, (state, outcome) in list(self.unrecorded.items()):  # a last try
            with contextlib.suppress(DiskFull):  # else attempting, unknown at the next start
                self._write(key, state, outcome)
                del self.unrecorded[key]
        for future in self.pending.values():
            if not future.done():
                future.set_exception(WireError(
                    "UNAVAILABLE", "the gateway is stopping; retry with the same "
                    "idempotencyKey after it restarts", retryable=True))
        self.pending.clear()
