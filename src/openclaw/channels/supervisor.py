"""One supervisor per channel account: keep it connected, notice stalls, back off.

The supervisor owns the account's receive loop: ``connect`` then ``poll`` rounds,
each bounded by the channel's ``poll_deadline_s``. Any failure, and any round that
overruns its deadline (a stalled long poll that would otherwise hang forever),
ends the loop; the supervisor closes nothing it does not own, waits with
exponential backoff and full jitter, and starts again, for as long as the gateway
runs. Its state is the account snapshot ``channels.status`` and ``health`` show.

A failure that says the account is no longer linked (``login_required``, e.g.
WhatsApp logging the device out) is not retried: the account is parked as
``logged-out`` until :meth:`ChannelSupervisor.wake` (after a login) starts it again,
so a dead login never becomes a reconnect loop and other accounts are untouched.

A round whose messages cannot be stored (a full disk) keeps the connection: the
cursor did not move, so the same messages are fetched again a second later, until
they are stored; this is logged once, and once more when it works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from openclaw.backoff import Backoff
from openclaw.channels.base import Channel, ChannelError, InboundMessage
from openclaw.clock import now_ms
from openclaw.errors import OpenClawError
from openclaw.store.db import DiskFull

__all__ = ["ChannelSupervisor"]

log = logging.getLogger("openclaw.channels")

#: How often a poll round that could not be stored (a full disk) is fetched again.
DISK_FULL_RETRY_S = 1.0

Sink = Callable[[Channel, list[InboundMessage], str | None], Awaitable[None]]


class ChannelSupervisor:
    """Runs one channel account and reports its state."""

    def __init__(self, channel: Channel, load_cursor: Callable[[], str | None], sink: Sink,
                 *, on_change: Callable[[], None] = lambda: None,
                 backoff: Backoff | None = None, connect_timeout_s: float = 30.0) -> None:
        self.channel = channel
        self.load_cursor = load_cursor
        self.sink = sink
        self.backoff = backoff or Backoff(base=1.0, cap=60.0, floor=0.2)
        self.connect_timeout_s = connect_timeout_s
        self.running = False
        self.connected = False
        self.started = asyncio.Event()  # set once the first connect succeeded
        self.reconnect_attempts = 0
        self.last_error: str | None = None
        self.last_connected_at: int | None = None
        self.last_start_at: int | None = None
        self.last_stop_at: int | None = None
        self.last_inbound_at: int | None = None
        self.last_outbound_at: int | None = None
        self.next_retry_at: int | None = None
        self.info: dict[str, Any] = {}
        self.on_change = on_change  # called when ``connected`` flips
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Parked: the account needs a login before it is tried again.
        self.logged_out = False
        self._wake = asyncio.Event()
        #: The last poll round could not be stored (a full disk); it is fetched again.
        self.disk_full = False

    @property
    def state(self) -> str:
        """``connected``, ``connecting`` (first try or retry in progress), ``logged-out``
        (parked until a login), ``unreachable`` (waiting to retry) or ``stopped``."""
        if not self.running:
            return "stopped"
        if self.connected:
            return "connected"
        if self.logged_out:
            return "logged-out"
        return "unreachable" if self.last_error is not None else "connecting"

    def wake(self) -> None:
        """Try to connect now: after a login, or to cut a backoff wait short."""
        self.logged_out = False
        self.backoff.reset()
        self._wake.set()

    @property
    def key(self) -> tuple[str, str]:
        """``(channel name, account id)``."""
        return self.channel.name, self.channel.account_id

    def start(self) -> None:
        """Start the receive loop in the background."""
        if self._task is None:
            self._stopping = False
            self.running = True
            self.last_start_at = now_ms()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"channel {self.channel.name}/{self.channel.account_id}")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop and release the channel."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=timeout_s)
        self.running = self.connected = False
        self.last_stop_at = now_ms()
        try:
            await self.channel.close()
        except Exception:  # closing is best effort; the process may be exiting
            log.debug("closing %s/%s failed", *self.key, exc_info=True)

    async def _deliver(self, messages: list[InboundMessage], cursor: str | None) -> None:
        if messages:
            self.last_inbound_at = now_ms()
        await self.sink(self.channel, messages, cursor)

    async def _session(self) -> None:
        self.next_retry_at = None
        self.info = await asyncio.wait_for(self.channel.connect(), self.connect_timeout_s)
        self.connected = True
        self.on_change()
        self.last_connected_at = now_ms()
        self.last_error = None
        self.next_retry_at = None
        self.backoff.reset()
        self.started.set()
        log.info("%s/%s connected", *self.key)
        deadline = self.channel.poll_deadline_s
        while not self._stopping:
            cursor = self.load_cursor()
            try:
                await asyncio.wait_for(self.channel.poll(cursor, self._deliver), deadline)
            except TimeoutError:
                raise TimeoutError(
                    f"poll stalled: no answer within {deadline:g}s; reconnecting") from None
            except DiskFull as exc:  # the cursor did not move: the same messages come again
                if not self.disk_full:
                    self.disk_full = True
                    log.warning("%s/%s: cannot store inbound messages: %s; they are fetched "
                                "again every %gs until there is room", *self.key, exc.message,
                                DISK_FULL_RETRY_S)
                self.last_error = exc.message
                await asyncio.sleep(DISK_FULL_RETRY_S)
                continue
            if self.disk_full:
                self.disk_full = False
                self.last_error = None
                log.info("%s/%s: inbound messages are stored again", *self.key)

    async def _run(self) -> None:
        while not self._stopping:
            asked_wait: float | None = None
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (OpenClawError, TimeoutError) as exc:
                self.last_error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                asked_wait = getattr(exc, "retry_after_s", None)
                if isinstance(exc, ChannelError) and exc.login_required:
                    self.logged_out = True
            except Exception as exc:  # a bug in a channel must not end supervision
                log.exception("%s/%s failed", *self.key)
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self.connected:
                self.connected = False
                self.on_change()
            if self._stopping:
                break
            self._wake.clear()
            if self.logged_out:
                self.next_retry_at = None
                self.on_change()
                log.warning("%s/%s: %s; not retrying until it is linked again", *self.key,
                            self.last_error)
                await self._wake.wait()
                continue
            self.reconnect_attempts += 1
            delay = self.backoff.next(asked_wait)
            self.next_retry_at = now_ms() + int(delay * 1000)
            log.warning("%s/%s: %s; retrying in %.1fs (attempt %d)", *self.key, self.last_error,
                        delay, self.reconnect_attempts)
            with contextlib.suppress(TimeoutError):  # a login may cut the wait short
                await asyncio.wait_for(self._wake.wait(), delay)

    def snapshot(self) -> dict[str, Any]:
        """The AccountSnapshot of ``channels.status``."""
        return {
            **self.channel.snapshot(),  # first, so the supervisor's own fields always win
            "accountId": self.channel.account_id,
            "state": self.state,
            "enabled": True,
            "configured": True,
            "running": self.running,
            "connected": self.connected,
            "started": self.started.is_set(),
            "reconnectAttempts": self.reconnect_attempts,
            "lastError": self.last_error,
            "lastConnectedAt": self.last_connected_at,
            "lastStartAt": self.last_start_at,
            "lastStopAt": self.last_stop_at,
            "lastInboundAt": self.last_inbound_at,
            "lastOutboundAt": self.last_outbound_at,
            "nextRetryAt": self.next_retry_at,
        }
