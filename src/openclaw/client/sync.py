"""Blocking gateway client, used by the CLI.

One connection, requests answered in turn; events that arrive while waiting go to
``on_event``. A silent gateway (no frame for 2 × ``tickIntervalMs``) is treated
as gone. :func:`call_once` is the whole life of a one-shot CLI call.
"""

from __future__ import annotations

import json
import time

from openclaw.client.core import (
    closed_error,
    connect_params,
    handshake_error,
    is_interim,
    new_id,
)
from openclaw.client.wsmini import MiniWebSocket, WebSocketClosed, WebSocketError
from openclaw.errors import GatewayUnreachable, RequestError

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any

    EventHandler = Callable[[dict[str, Any]], None]

__all__ = ["GatewayClient", "call_once"]

class GatewayClient:
    """A blocking client connection to the gateway.

    Args:
        url: ``ws://host:port``.
        token, password: the shared secret (either).
        timeout: seconds for connecting and the handshake.
        on_event: called with each event frame received while waiting.
        client_id, mode, scopes: the identity sent in ``connect``.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        on_event: EventHandler | None = None,
        client_id: str = "cli",
        mode: str = "cli",
        scopes: tuple[str, ...] | None = ("operator.read", "operator.write", "operator.admin"),
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.on_event = on_event
        self._params = connect_params(
            token=token, password=password, client_id=client_id, mode=mode, scopes=scopes
        )
        self._ws: MiniWebSocket | None = None
        self.hello: dict[str, Any] = {}
        self.tick_interval_s = 30.0
        self._last_frame = time.monotonic()

    def __enter__(self) -> GatewayClient:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> dict[str, Any]:
        """Open the connection and complete the handshake; return ``hello-ok``."""
        deadline = time.monotonic() + self.timeout
        try:
            self._ws = MiniWebSocket.connect(self.url, self.timeout)
        except ConnectionRefusedError:
            raise GatewayUnreachable(
                f"gateway not reachable at {self.url} (connection refused); is it running? "
                "Start it with `openclaw gateway` (add --profile/--dev if it uses one)"
            ) from None
        except TimeoutError:
            raise GatewayUnreachable(
                f"gateway at {self.url} did not answer within {self.timeout:g}s"
            ) from None
        except WebSocketClosed as exc:
            raise closed_error(self.url, exc.code, exc.reason, "during the upgrade") from None
        except OSError as exc:
            raise GatewayUnreachable(f"gateway not reachable at {self.url}: {exc}") from None
        challenge = self._next_frame(deadline, "waiting for connect.challenge")
        if challenge.get("event") != "connect.challenge":
            raise GatewayUnreachable(f"gateway at {self.url} did not send connect.challenge")
        request_id = new_id()
        self._send({"type": "req", "id": request_id, "method": "connect", "params": self._params})
        while True:
            frame = self._next_frame(deadline, "during the handshake")
            if frame.get("type") == "res" and frame.get("id") == request_id:
                break
        if not frame.get("ok"):
            self.close()
            raise handshake_error(self.url, frame.get("error"))
        self.hello = frame.get("payload") or {}
        policy = self.hello.get("policy") or {}
        self.tick_interval_s = float(policy.get("tickIntervalMs", 30000)) / 1000
        return self.hello

    def _send(self, frame: dict[str, Any]) -> None:
        assert self._ws is not None
        try:
            self._ws.send_text(json.dumps(frame, separators=(",", ":")))
        except OSError as exc:
            raise GatewayUnreachable(f"lost the connection to {self.url}: {exc}") from None

    def _next_frame(self, deadline: float | None, during: str) -> dict[str, Any]:
        ws = self._ws
        if ws is None:
            raise GatewayUnreachable(f"not connected to {self.url}")
        while True:
            now = time.monotonic()
            silence_limit = self._last_frame + 2 * self.tick_interval_s
            wait = silence_limit - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            if wait <= 0:
                if deadline is not None and now >= deadline:
                    raise GatewayUnreachable(f"timed out {during} (gateway {self.url})")
                self.close(4000, "tick timeout")
                raise GatewayUnreachable(
                    f"gateway at {self.url} went silent (no tick for {2 * self.tick_interval_s:g}s)"
                )
            ws.settimeout(wait)
            try:
                text = ws.recv_text()
            except TimeoutError:
                continue
            except WebSocketClosed as exc:
                self._ws = None
                raise closed_error(self.url, exc.code, exc.reason, during) from None
            except (WebSocketError, OSError) as exc:
                self._ws = None
                raise GatewayUnreachable(f"lost the connection to {self.url}: {exc}") from None
            self._last_frame = time.monotonic()
            try:
                frame = json.loads(text)
            except ValueError:
                raise GatewayUnreachable(f"gateway at {self.url} sent a malformed frame") from None
            if isinstance(frame, dict):
                return frame

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = 30.0,
        expect_final: bool = False,
        on_interim: Callable[[Any], None] | None = None,
    ) -> Any:
        """Send a request and return its payload.

        With ``expect_final``, ``accepted``/``in_flight`` answers are skipped (each is
        passed to ``on_interim``: the request was accepted) and the call waits for
        the final one. ``timeout=None`` waits as long as ticks arrive.

        Raises:
            RequestError: the gateway answered ``ok:false``.
            GatewayUnreachable: the connection failed, timed out or went silent.
        """
        request_id = new_id()
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        self._send(frame)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            reply = self._next_frame(deadline, f"waiting for {method}")
            kind = reply.get("type")
            if kind == "event":
                if self.on_event is not None:
                    self.on_event(reply)
                continue
            if kind != "res" or reply.get("id") != request_id:
                continue
            if not reply.get("ok"):
                raise RequestError.from_wire(reply.get("error"))
            payload = reply.get("payload")
            if expect_final and is_interim(payload):
                if on_interim is not None:
                    on_interim(payload)
                continue
            return payload

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        if self._ws is not None:
            self._ws.close(code, reason)
            self._ws = None


def call_once(
    url: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    password: str | None = None,
    timeout: float = 10.0,
    expect_final: bool = False,
) -> Any:
    """Connect, call one method, close. ``timeout`` bounds the whole call."""
    deadline = time.monotonic() + timeout
    with GatewayClient(url, token=token, password=password, timeout=timeout) as client:
        remaining = max(0.001, deadline - time.monotonic())
        return client.call(
            method, params, timeout=None if expect_final else remaining, expect_final=expect_final
        )
