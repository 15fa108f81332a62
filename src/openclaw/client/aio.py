"""Asyncio gateway client with automatic reconnect, built on ``websockets``.

Requests may run concurrently; a reader task routes responses to their callers
and events to :meth:`AsyncGatewayClient.events`. When the connection drops (the
gateway restarts, the network blips, or no ``tick`` arrives for 2 × the tick
interval, which closes the socket with 4000 "tick timeout") pending calls fail
with :class:`~openclaw.errors.GatewayUnreachable` and the client reconnects with
exponential backoff and jitter until :meth:`close` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from openclaw.backoff import Backoff
from openclaw.client.core import (
    ALL_SCOPES,
    closed_error,
    connect_params,
    handshake_error,
    is_interim,
    new_id,
)
from openclaw.errors import AuthError, GatewayUnreachable, OpenClawError, RequestError

__all__ = ["AsyncGatewayClient"]

log = logging.getLogger("openclaw.client")


class AsyncGatewayClient:
    """A long-lived gateway client.

    Args:
        url: ``ws://host:port``.
        token, password: the shared secret.
        client_id, mode, scopes, instance_id: identity sent in ``connect``.
        reconnect: reconnect after a drop (not after an auth refusal).
        backoff: reconnect delays (this client counts its attempts in it: give each
            client its own).
        connect_timeout: seconds for one connection attempt including the handshake.
        max_queued_events: events kept for :meth:`events`; the oldest are dropped past it.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        password: str | None = None,
        client_id: str = "gateway-client",
        mode: str = "backend",
        scopes: tuple[str, ...] | list[str] | None = ALL_SCOPES,
        instance_id: str | None = None,
        reconnect: bool = True,
        backoff: Backoff | None = None,
        connect_timeout: float = 10.0,
        max_queued_events: int = 10_000,
    ) -> None:
        self.url = url
        self.params = connect_params(
            token=token, password=password, client_id=client_id, mode=mode, scopes=scopes,
            instance_id=instance_id,
        )
        self.reconnect = reconnect
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.hello: dict[str, Any] = {}
        self.connections = 0
        self.last_close: tuple[int | None, str] | None = None
        self._ws: ClientConnection | None = None
        self._pending: dict[str, tuple[asyncio.Future[Any], bool]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queued_events)
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._closing = False
        self._runner: asyncio.Task[None] | None = None
        self._last_frame = time.monotonic()
        self.tick_interval_s = 30.0

    # ---------------------------------------------------------------- lifecycle

    async def connect(self) -> dict[str, Any]:
        """Connect once (raising on failure), then keep the connection in the background."""
        await self._open()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="gateway-client")
        return self.hello

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until a connection is established (e.g. after a reconnect)."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def wait_disconnected(self, timeout: float | None = None) -> None:
        """Wait until the current connection is lost (see :attr:`last_close` for why)."""
        await asyncio.wait_for(self._disconnected.wait(), timeout)

    @property
    def connected(self) -> bool:
        """True while a handshaken connection is open."""
        return self._connected.is_set()

    async def close(self) -> None:
        """Close for good: stop reconnecting, fail pending calls."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._fail_pending(GatewayUnreachable("client closed"))

    async def __aenter__(self) -> AsyncGatewayClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _open(self) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                ws = await ws_connect(
                    self.url, compression=None, max_size=32 * 1024 * 1024, open_timeout=None,
                    ping_interval=None, close_timeout=2, user_agent_header=None,
                )
                try:
                    challenge = json.loads(await ws.recv())
                    if challenge.get("event") != "connect.challenge":
                        raise GatewayUnreachable(f"gateway at {self.url} sent no connect.challenge")
                    request_id = new_id()
                    connect = {"type": "req", "id": request_id, "method": "connect",
                               "params": self.params}
                    await ws.send(json.dumps(connect))
                    while True:
                        frame = json.loads(await ws.recv())
                        if frame.get("type") == "res" and frame.get("id") == request_id:
                            break
                except ConnectionClosed as exc:
                    rcvd = exc.rcvd
                    raise closed_error(
                        self.url, rcvd.code if rcvd else None, rcvd.reason if rcvd else "",
                        "during the handshake",
                    ) from None
                except BaseException:
                    await ws.close()
                    raise
        except TimeoutError:
            raise GatewayUnreachable(f"gateway at {self.url} did not answer in time") from None
        except OSError as exc:
            raise GatewayUnreachable(f"gateway not reachable at {self.url}: {exc}") from None
        if not frame.get("ok"):
            await ws.close()
            raise handshake_error(self.url, frame.get("error"))
        self.hello = frame.get("payload") or {}
        policy = self.hello.get("policy") or {}
        self.tick_interval_s = float(policy.get("tickIntervalMs", 30000)) / 1000
        self._ws = ws
        self._last_frame = time.monotonic()
        self.connections += 1
        self.last_close = None
        self._disconnected.clear()
        self._connected.set()

    async def _run(self) -> None:
        while not self._closing:
            ws = self._ws
            if ws is not None:
                await self._read(ws)
                self._connected.clear()
                self._ws = None
                self._fail_pending(GatewayUnreachable(f"lost the connection to {self.url}"))
                self._disconnected.set()
            if self._closing or not self.reconnect:
                return
            self.backoff.reset()
            retry_after: float | None = None
            while True:
                await asyncio.sleep(self.backoff.next(retry_after))
                if self._closing:
                    return
                try:
                    await self._open()
                    break
                except AuthError as exc:
                    log.error("not reconnecting: %s", exc.message)
                    return
                except OpenClawError as exc:
                    log.info("reconnect failed, retrying: %s", exc.message)
                    retry_after = (None if exc.retry_after_ms is None
                                   else exc.retry_after_ms / 1000)

    async def _read(self, ws: ClientConnection) -> None:
        watchdog = asyncio.get_running_loop().create_task(self._watch_ticks(ws))
        try:
            async for message in ws:
                self._last_frame = time.monotonic()
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "res":
                    self._resolve(frame)
                elif kind == "event":
                    if self._events.full():
                        self._events.get_nowait()
                    self._events.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            if self.last_close is None or self.last_close[0] != 4000:
                self.last_close = (ws.close_code, ws.close_reason or "")

    async def _watch_ticks(self, ws: ClientConnection) -> None:
        while True:
            limit = 2 * self.tick_interval_s
            await asyncio.sleep(max(0.05, self._last_frame + limit - time.monotonic()))
            if time.monotonic() - self._last_frame >= limit:
                log.warning("no tick from %s for %.1fs: reconnecting", self.url, limit)
                self.last_close = (4000, "tick timeout")
                ws.transport.abort()  # the peer is silent; a closing handshake would stall
                return

    def _resolve(self, frame: dict[str, Any]) -> None:
        entry = self._pending.get(str(frame.get("id")))
        if entry is None:
            return
        future, expect_final = entry
        if future.done():
            return
        if not frame.get("ok"):
            future.set_exception(RequestError.from_wire(frame.get("error")))
        elif expect_final and is_interim(frame.get("payload")):
            return
        else:
            future.set_result(frame.get("payload"))
        self._pending.pop(str(frame.get("id")), None)

    def _fail_pending(self, error: Exception) -> None:
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    # ---------------------------------------------------------------- requests

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = 30.0,
        expect_final: bool = False,
    ) -> Any:
        """Send a request and await its (final) payload."""
        ws = self._ws
        if ws is None:
            raise GatewayUnreachable(f"not connected to {self.url}")
        request_id = new_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, expect_final)
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        try:
            await ws.send(json.dumps(frame))
            return await asyncio.wait_for(future, timeout)
        except ConnectionClosed:
            raise GatewayUnreachable(f"lost the connection to {self.url}") from None
        except TimeoutError:
            raise GatewayUnreachable(f"timed out waiting for {method} from {self.url}") from None
        finally:
            self._pending.pop(request_id, None)

    async def next_event(
        self, name: str | None = None, timeout: float | None = 10.0
    ) -> dict[str, Any]:
        """Wait for the next event (named ``name``, skipping others)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._events.get()
                if name is None or frame.get("event") == name:
                    return frame

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Iterate over events as they arrive (across reconnects)."""
        while True:
            yield await self._events.get()

    def drain_events(self) -> list[dict[str, Any]]:
        """Return and forget the events received so far."""
        items = []
        while not self._events.empty():
            items.append(self._events.get_nowait())
        return items
