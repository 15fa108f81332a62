"""Test harness: the ``openclaw`` CLI and a real gateway as subprocesses, and raw
protocol helpers. The benchmarks in ``bench/`` use it too.

The gateway is started as ``python -m openclaw gateway --port 0`` with an isolated
HOME; readiness is the ``listening on ws://...`` line it prints (read from its
stdout by a thread, so waiting is event-driven, not sleep-driven).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from openclaw.client.wsmini import MiniWebSocket

LISTENING = re.compile(r"listening on ws://[0-9.]+:(\d+) \(pid (\d+)")
#: How the CLI is run: this interpreter (the project's venv) with ``-m openclaw``.
OPENCLAW = (sys.executable, "-m", "openclaw")


@contextlib.contextmanager
def listening_socket() -> Iterator[int]:
    """A loopback port held by this (non-gateway) process while the block runs."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll ``predicate`` (a state of another process or thread, which sends no event
    to await) until it is truthy, and return its value; fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def authenticated_raw(port: int, token: str, *, rcvbuf: int | None = None,
                      timeout: float = 30.0) -> MiniWebSocket:
    """A raw WebSocket (the project's minimal blocking client) on loopback after
    ``hello-ok``, as a ``cli`` operator: for tests that misbehave at the frame level.
    ``rcvbuf`` sets a small receive buffer before connecting (a client that reads
    slowly or never)."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    ws = MiniWebSocket(sock)
    ws.handshake("127.0.0.1", port, "/", "openclaw-test-raw")
    ws.settimeout(timeout)
    json.loads(ws.recv_text())  # connect.challenge
    ws.send_text(json.dumps(connect_frame(token, client_id="cli", mode="cli")))
    reply = json.loads(ws.recv_text())
    assert reply["ok"] is True, reply
    return ws


def read_until_closed(sockets: Sequence[socket.socket], deadline: float
                      ) -> tuple[dict[socket.socket, bytes], dict[socket.socket, float]]:
    """Read every socket until its peer closes it, or until ``deadline`` (monotonic):
    what each one received, and when each was closed (monotonic; absent when it was
    still open). The sockets are made non-blocking and read through one selector, so
    hundreds can be watched at once."""
    received = {sock: b"" for sock in sockets}
    closed_at: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while len(closed_at) < len(sockets) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                received[sock] += chunk
                if not chunk:
                    closed_at[sock] = time.monotonic()
                    selector.unregister(sock)
    return received, closed_at


def clean_env(home: Path, **extra: str | None) -> dict[str, str]:
    """The inherited environment minus OPENCLAW_* and NO_COLOR, with HOME set to ``home``.

    Every child process gets this, so a developer's own settings cannot leak into a
    test. ``extra`` is applied last; a None value removes that variable.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env["HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NO_COLOR", None)
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_cli(
    *args: str,
    home: Path,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
    timeout: float = 60.0,
    wrapper: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``openclaw ARGS`` to completion as a user would; return its status and output.

    The process gets :func:`clean_env` of ``home`` plus ``env``; stdout and stderr are
    captured as text; stdin is ``input`` (or empty, never the test runner's). A
    non-zero exit is returned, not raised: tests assert on it. ``wrapper`` is argv
    put in front of the interpreter (e.g. ``setpriv`` to run as another user).
    """
    return subprocess.run(
        [*wrapper, *OPENCLAW, *args], env=clean_env(home, **(env or {})), input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def start_cli(
    *args: str,
    home: Path,
    env: Mapping[str, str | None] | None = None,
    **popen: Any,
) -> subprocess.Popen[str]:
    """Start ``openclaw ARGS`` in the background (the gateway, ``logs --follow``, a run
    to interrupt); the caller reads, signals and waits for it.

    The environment is as for :func:`run_cli`. stdout and stderr are text pipes unless
    ``popen`` says otherwise (any :class:`subprocess.Popen` keyword is passed on).
    """
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [*OPENCLAW, *args], env=clean_env(home, **(env or {})), text=True, **popen,
    )


class GatewayProcess:
    """A gateway subprocess with its own HOME (and so its own state dir).

    ``config`` is written to the state dir's ``openclaw.json`` first; ``env`` holds
    extra environment variables (see :func:`clean_env`). Lines of output are kept
    with the :func:`time.perf_counter` reading of their arrival, so a benchmark can
    time the start from :attr:`spawned_at` to :attr:`listening_at`.
    """

    def __init__(
        self,
        home: Path,
        *args: str,
        config: dict[str, Any] | None = None,
        env: Mapping[str, str | None] | None = None,
        port: int | None = 0,
        profile: str | None = None,
    ) -> None:
        self.home = home
        self.args = list(args)
        self.profile = profile
        self.env = dict(env or {})
        self.requested_port = port
        state = ".openclaw" if profile in (None, "default") else f".openclaw-{profile}"
        self.state_dir = home / state
        if config is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.state_dir / "openclaw.json").write_text(json.dumps(config))
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.arrivals: list[float] = []
        self._queue: queue.Queue[int | None] = queue.Queue()
        self.port = 0
        self.pid = 0
        self.spawned_at = 0.0
        self.listening_at = 0.0

    @property
    def argv(self) -> list[str]:
        """The CLI arguments that start the gateway (after ``openclaw``)."""
        base = ["--profile", self.profile] if self.profile else []
        port = [] if self.requested_port is None else ["--port", str(self.requested_port)]
        return [*base, "gateway", *port, *self.args]

    def spawn(self) -> GatewayProcess:
        """Start the process without waiting for readiness."""
        self.lines, self.arrivals = [], []
        self._queue = queue.Queue()
        self.spawned_at = time.perf_counter()
        self.proc = start_cli(*self.argv, home=self.home, env=self.env,
                              stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT, bufsize=1)
        threading.Thread(target=self._pump, args=(self.proc, self._queue), daemon=True).start()
        return self

    def _pump(self, proc: subprocess.Popen[str], lines: queue.Queue[int | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.arrivals.append(time.perf_counter())
            self.lines.append(line.rstrip("\n"))
            lines.put(len(self.lines) - 1)
        lines.put(None)

    def wait_for_line(self, pattern: str | re.Pattern[str], timeout: float = 15.0) -> re.Match[str]:
        """Block until a stdout line matches ``pattern``; fail if the process exits first."""
        return self._wait_for_line(pattern, timeout)[0]

    def _wait_for_line(self, pattern: str | re.Pattern[str],
                       timeout: float) -> tuple[re.Match[str], int]:
        """The first matching line and its index (the lines seen so far count too)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        for index, line in enumerate(list(self.lines)):
            match = regex.search(line)
            if match:
                return match, index
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {regex.pattern!r}; output:\n" + self.output)
            try:
                index = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if index is None:
                raise AssertionError(
                    f"gateway exited ({self.proc and self.proc.wait()}) before {regex.pattern!r}; "
                    "output:\n" + self.output
                )
            match = regex.search(self.lines[index])
            if match:
                return match, index

    def wait_listening(self, timeout: float = 15.0) -> GatewayProcess:
        """Block until the gateway says it listens; note its port, pid and when it said so."""
        match, index = self._wait_for_line(LISTENING, timeout)
        self.port = int(match.group(1))
        self.pid = int(match.group(2))
        self.listening_at = self.arrivals[index]
        return self

    def start(self, timeout: float = 15.0) -> GatewayProcess:
        """Start and wait until it accepts connections."""
        return self.spawn().wait_listening(timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Poll ``/readyz`` until it answers 200 (every channel account connected).

        Readiness is a state another process reaches and announces nowhere, so this
        polls; it fails after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2):
                    return
            except urllib.error.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """The token clients should use (configured, or the generated one)."""
        config_path = self.state_dir / "openclaw.json"
        if config_path.exists():
            token = (json.loads(config_path.read_text()).get("gateway", {}).get("auth", {})
                     .get("token"))
            if token:
                return str(token)
        return (self.state_dir / "credentials" / "gateway-token").read_text().strip()

    @property
    def log_dir(self) -> Path:
        """The gateway's log directory."""
        return self.state_dir / "logs"

    def log_text(self) -> str:
        """All of today's log files concatenated."""
        return "".join(p.read_text() for p in sorted(self.log_dir.glob("*.log")))

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send a signal to the gateway."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 15.0) -> int:
        """Wait for exit; return the exit status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not stop)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def run_to_exit(self, timeout: float = 15.0) -> tuple[int, str]:
        """Run a gateway that is expected to exit on its own; return (status, output)."""
        proc = run_cli(*self.argv, home=self.home, env=self.env, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr


def connect_frame(
    token: str | None = None,
    *,
    password: str | None = None,
    client_id: str = "test",
    mode: str = "test",
    scopes: list[str] | None = None,
    instance_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A ``connect`` request frame."""
    params: dict[str, Any] = {
        "minProtocol": 3,
        "maxProtocol": 4,
        "client": {"id": client_id, "version": "1.0.0", "platform": "linux", "mode": mode,
                   "instanceId": instance_id or uuid.uuid4().hex},
        "role": "operator",
        "scopes": scopes if scopes is not None else ["operator.admin"],
    }
    auth = {k: v for k, v in (("token", token), ("password", password)) if v}
    if auth:
        params["auth"] = auth
    params.update(overrides)
    return {"type": "req", "id": uuid.uuid4().hex, "method": "connect", "params": params}


class RawClient:
    """A websockets sync connection that speaks frames as dicts, for protocol tests."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.ws: ClientConnection = ws_connect(
            url, compression=None, open_timeout=10, legacy=True, **kwargs
        )
        self.challenge = self.recv()

    def send(self, frame: Any) -> None:
        """Send a dict as JSON (or a str/bytes as is)."""
        self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        """Receive one frame as a dict."""
        result: dict[str, Any] = json.loads(self.ws.recv(timeout))
        return result

    def handshake(self, token: str | None, **kwargs: Any) -> dict[str, Any]:
        """Send connect and return the hello-ok payload (asserting success)."""
        frame = connect_frame(token, **kwargs)
        self.send(frame)
        reply = self.recv()
        assert reply["type"] == "res" and reply["id"] == frame["id"], reply
        assert reply["ok"] is True, reply
        return dict(reply["payload"])

    @classmethod
    def to(cls, gateway: Any, **handshake: Any) -> RawClient:
        """A client of ``gateway`` (anything with ``url`` and ``token``: a
        :class:`GatewayProcess` or an ``InProcessGateway``), after its ``hello-ok``;
        ``handshake`` goes to :func:`connect_frame` (``scopes=...``, say)."""
        raw = cls(gateway.url)
        raw.handshake(gateway.token, **handshake)
        return raw

    def payload(self, method: str, params: dict[str, Any] | None = None,
                timeout: float = 10.0) -> Any:
        """The payload of the response to ``method`` (asserting that it succeeded)."""
        reply = self.request(method, params, timeout)
        assert reply["ok"], reply
        return reply["payload"]

    def request(self, method: str, params: dict[str, Any] | None = None,
                timeout: float = 10.0) -> dict[str, Any]:
        """Send a request and return its response frame (events in between are kept)."""
        request_id = uuid.uuid4().hex
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        self.send(frame)
        return self.response(request_id, timeout)

    def response(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the response to ``request_id`` (events in between are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.recv(max(0.01, deadline - time.monotonic()))
            if reply.get("type") == "res" and reply.get("id") == request_id:
                return reply
            self.events.append(reply)

    def next_event(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next event called ``name`` (kept ones first)."""
        for index, event in enumerate(self.events):
            if event.get("event") == name:
                return self.events.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if frame.get("type") == "event" and frame.get("event") == name:
                return frame
            self.events.append(frame)

    def close_code(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Read until the server closes; return (code, reason)."""
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + timeout
        try:
            while True:
                self.events.append(self.recv(max(0.01, deadline - time.monotonic())))
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, "")

    @property
    def events(self) -> list[dict[str, Any]]:
        """Frames received but not yet consumed."""
        if not hasattr(self, "_events"):
            self._events: list[dict[str, Any]] = []
        return self._events

    def close(self) -> None:
        """Close the connection."""
        self.ws.close()
