"""One WebSocket connection, driven through websockets' sans-I/O protocol.

The transport (:mod:`openclaw.gateway.server`) feeds received bytes in; this class
turns them into whole messages for the connection's handler, answers pings, and
writes what the protocol produces. Writes never wait: a frame is queued on the
socket at once, and :attr:`buffered` tells the event bus how much a client has not
read yet, so a client that stops reading can be dropped without holding anyone up.

Incoming messages go through a bounded queue: while it is full, reading from the
socket is paused, so one client pipelining thousands of requests cannot make the
gateway buffer them all. Bytes already read are parsed 16 KiB at a time, only while
the queue has room, and a connection whose next message is already waiting lets
the others run first, so such a client waits its turn like everyone else. The other way
round, while the socket's unsent buffer is over its high-water mark (the client is
not reading its answers) :meth:`WebSocketConnection.drain` holds the connection's
next request back, so the inbox fills and reading pauses too: a client that sends
requests and never reads costs a bounded buffer, not ``maxBufferedBytes``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque

from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, State
from websockets.server import ServerProtocol

__all__ = ["FEED_CHUNK", "INBOX_LIMIT", "WRITE_HIGH_WATER", "WebSocketConnection"]

log = logging.getLogger("openclaw.gateway.ws")

#: Whole messages read ahead of the handler before reading from the socket pauses.
INBOX_LIMIT = 32
#: Bytes handed to the WebSocket parser at once (one read may bring 256 KiB).
FEED_CHUNK = 16 * 1024
CLOSE_TIMEOUT_S = 2.0
#: Unsent bytes on one socket above which its next request waits (asyncio's default
#: high-water mark, set explicitly so the bound is documented here).
WRITE_HIGH_WATER = 64 * 1024


class WebSocketConnection:
    """An open WebSocket: send text, receive messages, close; never blocks on a write."""

    def __init__(self, protocol: ServerProtocol, transport: asyncio.Transport, remote: str,
                 headers: dict[str, str]) -> None:
        self.protocol = protocol
        self.transport = transport
        self.remote_address = remote
        #: The upgrade request's headers, names lower-cased.
        self.headers = headers
        self._messages: deque[bytes | str | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._fragments: list[bytes] = []
        self._text = True  # the message being received is text (else binary)
        self._paused = False
        self._pending = bytearray()  # read from the socket, not parsed yet
        self._writable: asyncio.Future[None] | None = None
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.closed = asyncio.get_running_loop().create_future()
        #: Set while a keepalive ping is unanswered.
        self.awaiting_pong = False
        #: The size of the largest message received (bytes).
        self.largest_message = 0

    # ----------------------------------------------------------------- state

    @property
    def open(self) -> bool:
        """The connection is open (neither side has started closing)."""
        return self.protocol.state is OPEN

    @property
    def close_code(self) -> int | None:
        """The close code, once the connection is closed."""
        return self.protocol.close_code

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the client's socket."""
        return self.transport.get_write_buffer_size()

    @property
    def max_message_size(self) -> int | None:
        """The largest message accepted from the client."""
        return self.protocol.max_message_size

    @max_message_size.setter
    def max_message_size(self, size: int | None) -> None:
        self.protocol.max_message_size = size

    # ----------------------------------------------------------------- sending

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            else:  # end of stream: the server closes TCP first (RFC 6455 §7.1.1)
                self.transport.close()

    def send_text(self, data: bytes) -> None:
        """Queue one text frame (``data`` is UTF-8 already); a no-op once closing."""
        if self.protocol.state is not OPEN:
            return
        self.protocol.send_text(data)
        self._flush()

    def ping(self) -> None:
        """Send a keepalive ping; :attr:`awaiting_pong` is set until the pong arrives."""
        if self.protocol.state is OPEN:
            self.protocol.send_ping(os.urandom(4))
            self.awaiting_pong = True
            self._flush()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and wait (bounded) for the socket to close."""
        if self.protocol.state is OPEN:
            self.protocol.send_close(code, reason)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.abort()

    def pause_writing(self) -> None:
        """The socket's unsent buffer passed the high-water mark."""
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        """The socket's unsent buffer drained below the low-water mark."""
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    @property
    def writing_paused(self) -> bool:
        """Whether the client has not taken what was already written to it."""
        return self._writable is not None and not self._writable.done()

    async def drain(self) -> None:
        """Wait while the client has not taken what was already written to it."""
        if self._writable is not None:
            await self._writable

    def abort(self) -> None:
        """Drop the connection at once (a client that stopped reading, or shutdown)."""
        self.transport.abort()

    # ----------------------------------------------------------------- receiving

    def data_received(self, data: bytes) -> None:
        """Take bytes from the socket; parse them into whole messages for :meth:`recv`
        while the inbox has room (the rest waits, and reading pauses)."""
        if not self._pending and len(data) <= FEED_CHUNK and len(self._messages) < INBOX_LIMIT:
            self._parse(data)  # the common case: a small read, nothing waiting
            return
        self._pending += data
        self._feed()

    def _feed(self) -> None:
        while self._pending and len(self._messages) < INBOX_LIMIT:
            chunk = bytes(self._pending[:FEED_CHUNK])
            del self._pending[:FEED_CHUNK]
            self._parse(chunk)
        if self._pending and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def _parse(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if not isinstance(event, Frame):
                continue
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                self._text = opcode is Opcode.TEXT
                if event.fin:
                    self._deliver(bytes(event.data))
                else:
                    self._fragments = [bytes(event.data)]
            elif opcode is Opcode.CONT:
                self._fragments.append(bytes(event.data))
                if event.fin:
                    whole, self._fragments = b"".join(self._fragments), []
                    self._deliver(whole)
            elif opcode is Opcode.PONG:
                self.awaiting_pong = False
        self._flush()  # pongs, the closing handshake, protocol errors

    def _deliver(self, data: bytes) -> None:
        self.largest_message = max(self.largest_message, len(data))
        if self._text:
            try:
                message: bytes | str = data.decode()
            except UnicodeDecodeError:
                self.protocol.fail(1007, "invalid UTF-8 in a text frame")
                return
        else:
            message = data
        self._messages.append(message)
        if len(self._messages) >= INBOX_LIMIT and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def connection_lost(self) -> None:
        """The socket closed: wake the reader with the end of the stream."""
        if self.protocol.state is not State.CLOSED:
            self.protocol.receive_eof()
        self._messages.append(None)
        self._wake()
        self.resume_writing()
        if not self.closed.done():
            self.closed.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def recv(self) -> bytes | str | None:
        """The next whole message (``str`` for text, ``bytes`` for binary), or None once
        the connection has closed."""
        if self._messages:  # it was waiting already: the client is ahead of us, so
            await asyncio.sleep(0)  # the other connections get their turn first
        while not self._messages:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        message = self._messages.popleft()
        if self._paused and len(self._messages) < INBOX_LIMIT // 2:
            self._feed()
            if not self._pending and len(self._messages) < INBOX_LIMIT:
                self._paused = False
                self.transport.resume_reading()
        return message
