"""A small blocking WebSocket client (RFC 6455) for the CLI's one-shot calls.

Why not ``websockets.sync.client``: importing it costs ~150 ms on the target
machines (``websockets.version`` pulls in ``importlib.metadata``), more than the
whole budget of ``openclaw gateway call health``. The CLI needs only text frames,
ping/pong and the closing handshake, on a socket it owns for one request, so this
module speaks exactly that with the standard library. The gateway itself and the
async client use ``websockets``; the test suite runs this client against it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct
from urllib.parse import urlsplit

__all__ = ["MiniWebSocket", "WebSocketClosed", "WebSocketError"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_MESSAGE = 32 * 1024 * 1024


class WebSocketError(OSError):
    """The peer broke the WebSocket protocol or the upgrade failed."""


class WebSocketClosed(Exception):
    """The peer closed the connection (``code`` is None when no close frame came)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed ({code}): {reason}")
        self.code = code
        self.reason = reason


def _mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return data
    n = len(data)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


class MiniWebSocket:
    """A client WebSocket over a blocking socket. Not thread-safe."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self.closed = False

    @classmethod
    def connect(cls, url: str, timeout: float, user_agent: str = "openclaw-cli") -> MiniWebSocket:
        """Open TCP (and TLS for ``wss://``), then perform the opening handshake."""
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise WebSocketError(f"not a WebSocket URL: {url!r} (use ws:// or wss://)")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if parts.scheme == "wss":
                import ssl

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            ws = cls(sock)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            ws.handshake(host, port, path, user_agent)
        except BaseException:
            sock.close()
            raise
        return ws

    def handshake(self, host: str, port: int, path: str, user_agent: str) -> None:
        """The opening handshake over this socket, already connected to ``host:port``.

        :meth:`connect` does it; a caller that opens the socket itself (to set its
        options first, say a small receive buffer) calls it directly.
        """
        key = base64.b64encode(os.urandom(16))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nUser-Agent: {user_agent}\r\n\r\n"
        )
        self._sock.sendall(request.encode("ascii"))
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
            if len(self._buffer) > 65536:
                raise WebSocketError("upgrade response too large")
        head, _, rest = bytes(self._buffer).partition(b"\r\n\r\n")
        self._buffer = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            raise WebSocketError(f"upgrade refused: {lines[0]}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise WebSocketError("upgrade response has a wrong Sec-WebSocket-Accept")

    def settimeout(self, timeout: float | None) -> None:
        """Timeout for the next blocking operations (``socket.timeout`` on expiry)."""
        self._sock.settimeout(timeout)

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise WebSocketClosed(None, "connection lost")
        self._buffer += chunk

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        key = os.urandom(4)
        self._sock.sendall(header + key + _mask(payload, key))

    def send_text(self, text: str | bytes) -> None:
        """Send one text frame."""
        self._send_frame(0x1, text.encode("utf-8") if isinstance(text, str) else text)

    def recv_text(self) -> str:
        """Return the next text message; answer pings; raise on close."""
        fragments: list[bytes] = []
        size = 0
        while True:
            first, second = self._read(2)
            opcode, fin = first & 0x0F, bool(first & 0x80)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            if second & 0x80:
                raise WebSocketError("server frames must not be masked")
            size += length
            if size > _MAX_MESSAGE:
                raise WebSocketError("message too big")
            payload = self._read(length)
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                self._reply_close(code)
                raise WebSocketClosed(code, reason)
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2, 0x0):
                fragments.append(payload)
                if fin:
                    return b"".join(fragments).decode("utf-8", "replace")
                continue
            raise WebSocketError(f"unknown opcode {opcode}")

    def _reply_close(self, code: int | None) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._send_frame(0x8, struct.pack("!H", code or 1000))
        self._sock.close()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and drop the socket (the CLI does not wait for the echo)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._send_frame(0x8, struct.pack("!H", code) + reason.encode("utf-8")[:120])
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._sock.close()
