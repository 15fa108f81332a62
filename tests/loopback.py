"""What the loopback fakes share: a threaded HTTP server on 127.0.0.1 that tracks its
connections, starting and stopping it, and waiting for a condition on the fake.

A fake subclasses :class:`LoopbackFake` (its scripting and inspection surface) and
:class:`TrackedHandler` (its HTTP routes), and sets ``handler_class``.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class LoopbackServer(ThreadingHTTPServer):
    """One thread per connection; asks the fake whether to accept each one."""

    daemon_threads = True
    request_queue_size = 256  # the listen backlog: bursts of concurrent clients must not reset

    def __init__(self, fake: LoopbackFake, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), fake.handler_class)
        self.fake = fake

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self.fake._accept()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-request are routine in these tests; stay quiet about it."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class TrackedHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, TCP_NODELAY, and the fake knows every open connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _read_body(self) -> bytes:
        """The request body, whether sent with Content-Length or chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log."""


class LoopbackFake:
    """The server thread, and the lock and condition every request notifies."""

    handler_class: ClassVar[type[TrackedHandler]]
    thread_name: ClassVar[str] = "fake"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> Any:
        """Bind 127.0.0.1 (on a free port unless ``port``) and serve from a daemon thread."""
        self._stopping.clear()
        self._server = LoopbackServer(self, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=self.thread_name, daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: blocked handlers are released and open connections cut."""
        self._stopping.set()
        self._release()
        self._halt()

    def _halt(self) -> None:
        """Close the listener and cut every open connection (the object stays usable)."""
        with self._changed:
            self._changed.notify_all()
            connections = list(self._connections)
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._thread = None
        for connection in connections:  # idle keep-alive connections, too
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _release(self) -> None:
        """Wake handlers the fake holds on purpose (stalls); subclasses extend it."""

    def _accept(self) -> bool:
        """Whether to serve a new connection (a fake that is 'down' refuses)."""
        return True

    def _summary(self) -> str:
        """What the traffic looked like, for a failed :meth:`wait_for`."""
        return ""

    def __enter__(self) -> Any:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate(self)`` holds (re-checked whenever the fake changes).

        Raises AssertionError with a summary of the traffic if ``timeout`` passes first.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"{type(self).__name__}: condition not met within "
                                     f"{timeout}s; {self._summary()}")
