"""The soak run: a gateway under a steady mixed load for a fixed time, watched for
growth (memory, descriptors) and lag, and checked to have lost nothing.

Bounded in time and count, loopback only, stops by itself. One gateway runs as a
subprocess under a temporary HOME with

* a Telegram account on the test suite's fake Bot API (``tests/fake_telegram.py``)
  and an OpenAI-compatible provider on its fake model server
  (``tests/fake_models.py``), both in one child process of their own. The model
  streams ``"echo: " + the message`` word by word; a message containing
  ``tool-read N`` or ``tool-exec N`` makes it ask for ``read`` of a workspace file or
  ``exec`` of ``echo tool-N`` first (``tools.exec`` allows ``echo *`` without asking);
* ``--clients`` connections held for the whole run: ``--ui-clients`` connected as
  OpenClaw's Control UI does (client ``openclaw-control-ui``, mode ``webchat``, its
  scopes) and subscribed with ``sessions.subscribe`` and
  ``sessions.messages.subscribe`` to their own session; ``--followers`` following
  the log with ``logs.tail`` every second; one monitor that reads every event; one
  sender; the rest ``cli``-mode operators that only read events. Every one of them
  holds ``operator.read``, so every event goes to every one of them;
* driven at fixed rates: ``send`` to the fake (``--send-rate``), inbound messages
  pushed into the fake's ``getUpdates`` and answered by the assistant loop
  (``--inbound-rate``), ``chat.send`` turns from the Control UI clients with streamed
  replies (``--chat-rate``), turns with a tool call (``--tool-rate``), one-shot calls
  (connect, call one read method, close; ``--call-rate``), a real ``openclaw gateway
  call health`` subprocess every ``--cli-every`` seconds, and ``--cron-jobs`` cron
  jobs firing every ``--cron-every`` seconds, each delivering its reply to a chat.

Every ``--interval`` seconds a row goes to ``soak.csv``: the gateway's VmRSS and open
descriptors (``/proc/PID``), the size of the state directory's SQLite files and
their WAL, the gateway's CPU use, its event-loop lag and the throughput of each
stream over the interval. Event-loop lag is measured from outside: a probe in a
process of its own sends ``health`` every ``--probe-every`` seconds on its own
connection and times the round trip (the gateway does not report its loop's lag
itself), so it is the gateway's responsiveness as a client sees it, including the
machine's scheduling. At the end ``soak.png`` plots the rows (matplotlib, the
``bench`` extra).

The run fails (exit 1, one line saying what failed) when, over the second half of
the rows, the Theil–Sen slope of RSS or of descriptors passes its bound, when
the lag's p99 or max passes its bound, when any request, turn, call or CLI run
failed, when a send was not delivered exactly once (the fake's record), an inbound
message was not answered exactly once, a cron run's delivery is missing or
doubled, a held client was disconnected, or the gateway did not stop cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    LeanConnection,
    PipedChild,
    Result,
    child_env,
    cpu_jiffies,
    cpu_seconds,
    cpu_times,
    gateway,
    open_fds,
    openclaw_executable,
    parse,
    parser,
    percentile,
    progress,
    raise_nofile,
    report,
    rss_mb,
)
from harness import GatewayProcess, connect_frame

BOT_TOKEN = "123456:SOAK-token-abc"
API_KEY = "test-key"
MODEL = "test-model"
SEND_CHAT = 5001  # where ``send`` delivers
INBOUND_CHATS = tuple(range(7001, 7021))  # who talks to the assistant
CRON_CHAT_BASE = 6001  # job J delivers to chat CRON_CHAT_BASE + J
NOTE_FILE = "soak-note.txt"
NOTE_TEXT = "soak note for the read tool"
TURN_TIMEOUT_S = 60.0
RUN_MARGIN_S = 240  # setup and drain beyond --duration before the run counts as hung
CONTROL_UI_SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals",
                     "operator.questions", "operator.pairing"]
ONE_SHOT_METHODS = ("health", "status", "sessions.list", "cron.list", "channels.status",
                    "messages.list", "system-presence")
CSV_FIELDS = ("t_s", "rss_mb", "fds", "db_kb", "wal_kb", "gateway_cpu_pct", "bench_cpu_pct",
              "machine_busy_pct", "lag_p50_ms",
              "lag_p99_ms", "lag_max_ms", "lag_samples", "connections", "sends_per_s",
              "inbound_per_s", "turns_per_s", "tool_turns_per_s", "cron_runs_per_s",
              "calls_per_s", "log_lines_per_s", "frames_per_s")


# --------------------------------------------------------------------------- the fakes


def fakes_main(conn: Any) -> None:
    """Child process: the fake Bot API and the fake model server, driven over a pipe."""
    from fake_models import FakeModels, ScriptedCall, text_of
    from fake_telegram import FakeTelegram

    class SoakModels(FakeModels):
        """FakeModels that asks for a tool when the user's message names one, so turns
        running at once each get their own tool call (the scripted queue is shared)."""

        def plan(self, api: Any, body: dict[str, Any]) -> Any:
            fault, text, pieces, calls = super().plan(api, body)
            last = body["messages"][-1]
            if calls or last.get("role") != "user":
                return fault, text, pieces, calls
            asked = re.search(r"tool-(read|exec) (\d+)", text_of(last.get("content")))
            if asked is None:
                return fault, text, pieces, calls
            if asked[1] == "read":
                call = ScriptedCall("read", {"path": NOTE_FILE}, pieces=3)
            else:
                call = ScriptedCall("exec", {"command": f"echo tool-{asked[2]}"}, pieces=3)
            return fault, "", [], [call]

    telegram = FakeTelegram(token=BOT_TOKEN).start()
    models = SoakModels(api_key=API_KEY).start()
    conn.send((telegram.api_root, models.openai_base_url))
    while True:
        command, *args = conn.recv()
        if command == "push":
            conn.send(telegram.push_message(*args))
        elif command == "sent":
            conn.send(telegram.deliveries())
        elif command == "model_calls":
            conn.send(len(models.bodies()))
        elif command == "stop":
            telegram.stop()
            models.stop()
            conn.send(None)
            return


class Fakes(PipedChild):
    """The fakes' child process, driven over a pipe from any thread."""

    def __init__(self) -> None:
        """Start the child and wait for its two base URLs."""
        super().__init__(fakes_main)
        self.api_root, self.model_url = self.greeting


# --------------------------------------------------------------------------- the lag probe


def probe_main(conn: Any, url: str, token: str, every: float) -> None:
    """Child process: ``health`` on one connection every ``every`` s, timing each round
    trip; ``take`` hands over the round trips (ms) since the last ``take``."""
    from websockets.sync.client import connect

    ws = connect(url, compression=None, max_size=None, open_timeout=30)
    ws.recv()  # connect.challenge
    hello = connect_frame(token, client_id="openclaw-probe", mode="probe",
                          scopes=["operator.read"])
    ws.send(json.dumps(hello))
    while f'"id":"{hello["id"]}"' not in str(ws.recv()):
        pass
    samples: list[float] = []
    conn.send("ready")
    for number in itertools.count():
        if conn.poll():
            command, *_ = conn.recv()
            if command == "stop":
                break
            conn.send(samples)
            samples = []
        marker = f'"id":"p{number}"'
        started = time.perf_counter()
        ws.send(f'{{"type":"req","id":"p{number}","method":"health"}}')
        while marker not in str(ws.recv()):  # events in between are skipped
            pass
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(max(0.0, every - (time.perf_counter() - started)))
    ws.close()
    conn.send(None)


class Probe(PipedChild):
    """The lag probe's child process."""

    def __init__(self, gw: GatewayProcess, every: float) -> None:
        """Start the probe and wait until its connection is open."""
        super().__init__(probe_main, gw.url, gw.token, every)
        if self.greeting != "ready":
            raise RuntimeError("the lag probe did not start")

    def take(self) -> list[float]:
        """Round trips (ms) since the last call; empty when the probe does not answer
        within 30 s (then no round trip came back in that time either)."""
        self.conn.send(("take",))
        if not self.conn.poll(30):
            return []
        samples: list[float] = self.conn.recv()
        return samples

    def stop(self) -> None:
        """Stop the probe (answers to earlier takes may come first) and reap it."""
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self.conn.send(("stop",))
                while self.conn.recv() is not None:
                    pass
            self.process.join(5)
        super().stop()


# --------------------------------------------------------------------------- clients


class Peer:
    """A lean connection (``_common.LeanConnection``) with request/response matching.

    ``on_event(peer, data)`` gets every event frame's bytes (None: events are only
    counted by the connection). ``closed_early`` is set when the gateway closed it
    before :meth:`close`.
    """

    def __init__(self, on_event: Callable[[Peer, bytes], None] | None = None) -> None:
        """Describe; :meth:`open` connects."""
        self.on_event = on_event
        self.conn: LeanConnection | None = None
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.closing = False

    async def open(self, url: str, token: str, *, mode: str = "cli",
                   client_id: str = "cli", scopes: list[str] | None = None) -> Peer:
        """Connect and complete the handshake as ``client_id``/``mode``."""
        self.conn = await _open(url, token, self._frame, mode, client_id, scopes)
        return self

    def _frame(self, conn: LeanConnection, now: float, data: bytes) -> None:
        """Responses resolve their request; events go to ``on_event``."""
        if data.startswith(b'{"type":"res"'):
            frame = json.loads(data)
            future = self.pending.pop(frame.get("id", ""), None)
            if future is not None and not future.done():
                future.set_result(frame)
        elif self.on_event is not None:
            self.on_event(self, data)

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float = 30.0) -> dict[str, Any]:
        """One request; its payload. Raises RuntimeError on an error answer."""
        assert self.conn is not None
        request_id = f"r{next(self.ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        self.conn.send(frame)
        try:
            async with asyncio.timeout(timeout):
                reply = await future
        finally:
            self.pending.pop(request_id, None)
        if reply.get("ok") is not True:
            raise RuntimeError(f"{method}: {reply.get('error')!r:.200}")
        payload: dict[str, Any] = reply.get("payload") or {}
        return payload

    @property
    def closed_early(self) -> bool:
        """Whether the connection is gone without :meth:`close` having been called."""
        return self.conn is not None and self.conn.closed.done() and not self.closing

    async def close(self) -> None:
        """Close the connection."""
        self.closing = True
        if self.conn is not None:
            await self.conn.close()


class _Connection(LeanConnection):
    """A LeanConnection that introduces itself as a given client with given scopes."""

    client_id = "cli"
    scopes: list[str] | None = None

    def _handshake(self, frame: dict[str, Any]) -> None:
        """As LeanConnection's, with this connection's client id and scopes."""
        if frame.get("event") == "connect.challenge":
            request = connect_frame(self.token, mode=self.mode, client_id=self.client_id,
                                    scopes=self.scopes)
            self.connect_id = request["id"]
            self.proto.send_text(json.dumps(request).encode())
            return
        super()._handshake(frame)


async def _open(url: str, token: str, on_frame: Callable[[LeanConnection, float, bytes], None],
                mode: str, client_id: str, scopes: list[str] | None) -> LeanConnection:
    """Open a :class:`_Connection` as ``client_id``/``mode`` with ``scopes``."""
    cls = type("Connection", (_Connection,), {"client_id": client_id, "scopes": scopes})
    connection: LeanConnection = await cls.open(url, token, on_frame, mode=mode)
    return connection


# --------------------------------------------------------------------------- the run


@dataclass
class Counters:
    """What happened, cumulatively; the sampler turns differences into rates."""

    sends: int = 0
    inbound: int = 0
    turns: int = 0
    tool_turns: int = 0
    cron_runs: int = 0
    calls: int = 0
    log_lines: int = 0
    cli_runs: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, int]:
        """The counters the CSV reports as rates."""
        return {"sends": self.sends, "inbound": self.inbound, "turns": self.turns,
                "tool_turns": self.tool_turns, "cron_runs": self.cron_runs,
                "calls": self.calls, "log_lines": self.log_lines}

    def error(self, text: str) -> None:
        """Record one failure (the first few are kept whole)."""
        self.errors.append(text[:300])


class Monitor:
    """Reads every event on one connection: terminal ``chat`` events by run id, ``cron``
    runs, ``message`` events, and checks that the connection's event ``seq`` has no gap."""

    def __init__(self, counters: Counters) -> None:
        """Nothing seen yet."""
        self.counters = counters
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.finals: dict[str, dict[str, Any]] = {}
        self.cron_finished: list[dict[str, Any]] = []
        self.messages = 0
        self.last_seq = 0
        self.gaps = 0

    def on_event(self, peer: Peer, data: bytes) -> None:
        """One event frame."""
        frame = json.loads(data)
        seq = frame.get("seq")
        if isinstance(seq, int):
            if self.last_seq and seq != self.last_seq + 1:
                self.gaps += 1
            self.last_seq = seq
        event, payload = frame.get("event"), frame.get("payload") or {}
        if event == "chat" and payload.get("state") != "delta":
            run_id = payload.get("runId", "")
            self.finals[run_id] = payload
            waiter = self.waiters.pop(run_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(payload)
        elif event == "cron" and payload.get("action") == "finished":
            self.cron_finished.append(payload)
            self.counters.cron_runs += 1
        elif event == "message":
            self.messages += 1

    def expect(self, run_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future for run ``run_id``'s terminal ``chat`` event (register before starting it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[run_id] = future
        return future


def final_text(payload: dict[str, Any]) -> str:
    """The text of a terminal ``chat`` event's message."""
    content = (payload.get("message") or {}).get("content") or [{}]
    return str(content[0].get("text") or "")


def slope_per_min(times: list[float], values: list[float]) -> float:
    """The Theil–Sen slope of ``values`` over ``times`` (seconds), per minute: the
    median of the slopes between every pair of samples.

    Unlike a least-squares fit, one step (a module imported once, the first automatic
    backup) does not read as growth, while memory that keeps rising, steadily or in
    repeated steps, does.
    """
    pairs = [(values[j] - values[i]) / (times[j] - times[i])
             for i in range(len(times)) for j in range(i + 1, len(times))
             if times[j] != times[i]]
    return statistics.median(pairs) * 60 if pairs else 0.0


def state_db_kb(state: Path) -> tuple[float, float]:
    """(KB of the SQLite databases, KB of their WAL files) in the state directory."""
    db = wal = 0
    for path in state.glob("*.db*"):
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            if path.name.endswith("-wal"):
                wal += size
            elif path.name.endswith(".db"):
                db += size
    return db / 1024, wal / 1024


class Soak:
    """One soak run against one gateway: connections, drivers, sampler, checks."""

    def __init__(self, ns: argparse.Namespace, gw: GatewayProcess, fakes: Fakes,
                 out: Path) -> None:
        """Describe the run; :meth:`run` does it."""
        self.ns = ns
        self.gw = gw
        self.fakes = fakes
        self.out = out
        self.counters = Counters()
        self.monitor = Monitor(self.counters)
        self.held: list[Peer] = []
        self.ui: list[Peer] = []
        self.followers: list[Peer] = []
        self.sender: Peer | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.in_flight: dict[str, int] = {}
        self.rows: list[dict[str, float]] = []
        self.lag_all: list[float] = []
        self.turn_ms: list[float] = []
        self.send_ms: list[float] = []
        self.sent_keys: list[int] = []
        self.inbound_keys: list[tuple[int, int]] = []
        self.cron_ids: list[str] = []
        self.stop_at = 0.0

    # -- connections

    async def connect_all(self) -> float:
        """Open every held connection (50 handshakes at a time); return seconds."""
        ns, gw = self.ns, self.gw
        started = time.perf_counter()
        monitor = await Peer(self.monitor.on_event).open(gw.url, gw.token)
        self.sender = await Peer().open(gw.url, gw.token)
        gate = asyncio.Semaphore(50)

        async def one(index: int) -> Peer:
            async with gate:
                peer = Peer()
                if index < ns.ui_clients:
                    await peer.open(gw.url, gw.token, mode="webchat",
                                    client_id="openclaw-control-ui", scopes=CONTROL_UI_SCOPES)
                    session = f"agent:main:soak-ui-{index}"
                    await peer.call("sessions.subscribe", {})
                    await peer.call("sessions.messages.subscribe", {"key": session})
                    await peer.call("chat.history", {"sessionKey": session, "limit": 50})
                else:
                    await peer.open(gw.url, gw.token)
                return peer

        rest = ns.clients - 3  # the monitor, the sender and the lag probe
        peers = await asyncio.gather(*(one(i) for i in range(rest)))
        self.ui = peers[:ns.ui_clients]
        self.followers = peers[ns.ui_clients:ns.ui_clients + ns.followers]
        self.held = [monitor, self.sender, *peers]
        self.monitor_peer = monitor
        return time.perf_counter() - started

    # -- pacing

    def spawn(self, kind: str, work: Awaitable[None], limit: int) -> None:
        """Run ``work`` as a task unless ``limit`` of ``kind`` are already going (then
        the slot is counted as skipped: the load was not held)."""
        if self.in_flight.get(kind, 0) >= limit:
            self.counters.skipped[kind] = self.counters.skipped.get(kind, 0) + 1
            if asyncio.iscoroutine(work):
                work.close()
            return
        self.in_flight[kind] = self.in_flight.get(kind, 0) + 1

        async def wrapped() -> None:
            try:
                await work
            except Exception as exc:
                self.counters.error(f"{kind}: {type(exc).__name__}: {exc}")
            finally:
                self.in_flight[kind] -= 1

        task = asyncio.get_running_loop().create_task(wrapped())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def paced(self, kind: str, rate: float, make: Callable[[int], Awaitable[None]],
                    limit: int = 50) -> None:
        """Start ``make(n)`` ``rate`` times a second on a fixed schedule until the end."""
        if rate <= 0:
            return
        loop = asyncio.get_running_loop()
        period = 1.0 / rate
        next_at = loop.time()
        for number in itertools.count():
            next_at += period
            if next_at >= self.stop_at:
                return
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.spawn(kind, make(number), limit)

    # -- the streams

    async def one_send(self, number: int) -> None:
        """``send`` one message to the fake; counted when answered."""
        assert self.sender is not None
        started = time.perf_counter()
        await self.sender.call("send", {"to": str(SEND_CHAT), "message": f"snd{number}x",
                                        "idempotencyKey": f"soak-send-{number}"})
        self.send_ms.append((time.perf_counter() - started) * 1000)
        self.sent_keys.append(number)
        self.counters.sends += 1

    async def one_inbound(self, number: int) -> None:
        """Push one inbound message into the fake's ``getUpdates``."""
        chat = INBOUND_CHATS[number % len(INBOUND_CHATS)]
        await asyncio.to_thread(self.fakes.call, "push", chat, f"inb{number}x hello")
        self.inbound_keys.append((chat, number))
        self.counters.inbound += 1

    async def turn(self, peer: Peer, session: str, key: str, message: str) -> dict[str, Any]:
        """One ``chat.send`` and its terminal ``chat`` event (read by the monitor)."""
        final = self.monitor.expect(key)
        started = time.perf_counter()
        answer = await peer.call("chat.send", {"sessionKey": session, "message": message,
                                               "idempotencyKey": key, "deliver": False})
        if answer.get("status") != "started":
            raise RuntimeError(f"chat.send {key}: {answer!r:.200}")
        async with asyncio.timeout(TURN_TIMEOUT_S):
            payload = await final
        self.turn_ms.append((time.perf_counter() - started) * 1000)
        if payload.get("state") != "final":
            raise RuntimeError(f"turn {key} ended {payload.get('state')}: "
                               f"{payload.get('errorMessage')!r:.200}")
        return payload

    async def one_chat(self, number: int) -> None:
        """A plain streamed turn from a Control UI client on its own session."""
        index = number % len(self.ui)
        message = f"chat {number} from the soak"
        payload = await self.turn(self.ui[index], f"agent:main:soak-ui-{index}",
                                  f"soak-chat-{number}", message)
        if final_text(payload) != f"echo: {message}":
            raise RuntimeError(f"turn soak-chat-{number} answered {final_text(payload)!r:.100}")
        self.counters.turns += 1

    async def one_tool(self, number: int) -> None:
        """A turn whose model call asks for ``read`` (even) or ``exec`` (odd) first."""
        kind = "read" if number % 2 == 0 else "exec"
        peer = self.ui[number % len(self.ui)]
        payload = await self.turn(peer, f"agent:main:soak-tools-{number % 4}",
                                  f"soak-tool-{number}", f"tool-{kind} {number}")
        expected = NOTE_TEXT if kind == "read" else f"tool-{number}"
        if expected not in final_text(payload):
            raise RuntimeError(f"tool turn {number} answered {final_text(payload)!r:.100}")
        self.counters.tool_turns += 1

    async def one_call(self, number: int) -> None:
        """A one-shot client: connect, call one read method, close."""
        peer = await Peer().open(self.gw.url, self.gw.token)
        try:
            method = ONE_SHOT_METHODS[number % len(ONE_SHOT_METHODS)]
            await peer.call(method, {} if method != "messages.list" else {"limit": 10})
        finally:
            await peer.close()
        self.counters.calls += 1

    async def follow(self, peer: Peer) -> None:
        """``logs.tail`` every second, as ``openclaw logs --follow`` does."""
        cursor: int | None = None
        while time.monotonic() < self.stop_at_mono:
            params: dict[str, Any] = {"limit": 500}
            if cursor is not None:
                params["cursor"] = cursor
            try:
                answer = await peer.call("logs.tail", params)
            except Exception as exc:
                self.counters.error(f"logs.tail: {type(exc).__name__}: {exc}")
                return
            new = int(answer["cursor"])
            if cursor is not None and new < cursor and not answer.get("reset"):
                self.counters.error(f"logs.tail cursor went back {cursor} -> {new}")
            cursor = new
            self.counters.log_lines += len(answer.get("lines") or [])
            await asyncio.sleep(1.0)

    async def cli_runs(self) -> None:
        """A real ``openclaw gateway call health`` every ``--cli-every`` seconds."""
        if self.ns.cli_every <= 0:
            return
        exe = openclaw_executable()
        env = child_env(self.gw.home, OPENCLAW_GATEWAY_PORT=str(self.gw.port))
        while time.monotonic() + self.ns.cli_every < self.stop_at_mono:
            await asyncio.sleep(self.ns.cli_every)
            proc = await asyncio.create_subprocess_exec(
                exe, "gateway", "call", "health", env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
            if proc.returncode != 0 or json.loads(out or b"{}").get("ok") is not True:
                self.counters.error(f"openclaw gateway call health exited {proc.returncode}: "
                                    f"{err.decode()[:200]}")
            self.counters.cli_runs += 1

    async def add_cron_jobs(self) -> None:
        """``--cron-jobs`` jobs every ``--cron-every`` s, each announcing to its own chat."""
        assert self.sender is not None
        for index in range(self.ns.cron_jobs):
            job = await self.sender.call("cron.add", {
                "id": f"soak-{index}", "name": f"soak job {index}",
                "schedule": {"kind": "every", "everyMs": int(self.ns.cron_every * 1000)},
                "payload": {"kind": "agentTurn", "message": f"cron job {index} tick"},
                "delivery": {"mode": "announce", "channel": "telegram",
                             "to": str(CRON_CHAT_BASE + index)},
                "sessionTarget": "isolated"})
            self.cron_ids.append(str(job["id"]))

    # -- sampling

    async def sampler(self, probe: Probe, started: float) -> None:
        """A CSV row every ``--interval`` seconds until the end."""
        state = self.gw.home / ".openclaw"
        path = self.out / "soak.csv"
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS)
            writer.writeheader()
            last = self.counters.snapshot()
            last_frames = self.frames()
            last_cpu = cpu_seconds(self.gw.pid)
            last_own = sum(cpu_times())
            last_jiffies = cpu_jiffies()
            last_t = time.monotonic()
            probe.take()
            while True:
                await asyncio.sleep(max(0.0, min(self.ns.interval,
                                                 self.stop_at_mono - time.monotonic())))
                now = time.monotonic()
                span = max(now - last_t, 1e-6)
                if not self.gw.alive():
                    self.counters.error("the gateway exited during the run")
                    self.stop_at = self.stop_at_mono = 0.0  # the drivers stop
                    return
                lags = await asyncio.to_thread(probe.take)
                if not lags:
                    self.counters.error(f"the lag probe got no answer in {span:.0f} s")
                self.lag_all.extend(lags)
                counts, frames = self.counters.snapshot(), self.frames()
                cpu, own, jiffies = cpu_seconds(self.gw.pid), sum(cpu_times()), cpu_jiffies()
                busy = (jiffies[0] - last_jiffies[0]) / max(1, jiffies[1] - last_jiffies[1])
                db_kb, wal_kb = state_db_kb(state)
                try:
                    status = await self.monitor_peer.call("status")
                except (RuntimeError, TimeoutError) as exc:
                    self.counters.error(f"status: {exc}")
                    status = {"gateway": {"connections": -1}}
                row: dict[str, float] = {
                    "t_s": round(now - started, 2),
                    "rss_mb": round(rss_mb(self.gw.pid), 2),
                    "fds": open_fds(self.gw.pid),
                    "db_kb": round(db_kb, 1), "wal_kb": round(wal_kb, 1),
                    "gateway_cpu_pct": round((cpu - last_cpu) / span * 100, 1),
                    "bench_cpu_pct": round((own - last_own) / span * 100, 1),
                    "machine_busy_pct": round(busy * 100, 1),
                    "lag_p50_ms": round(percentile(lags, 50), 2) if lags else -1,
                    "lag_p99_ms": round(percentile(lags, 99), 2) if lags else -1,
                    "lag_max_ms": round(max(lags), 2) if lags else -1,
                    "lag_samples": len(lags),
                    "connections": int(status["gateway"]["connections"]),
                    "frames_per_s": round((frames - last_frames) / span, 1),
                }
                for name in ("sends", "inbound", "turns", "tool_turns", "cron_runs", "calls",
                             "log_lines"):
                    row[f"{name}_per_s"] = round((counts[name] - last[name]) / span, 2)
                writer.writerow(row)
                stream.flush()
                self.rows.append(row)
                progress(f"t={row['t_s']:.0f}s rss {row['rss_mb']:.1f} MB fds {row['fds']} "
                         f"wal {row['wal_kb']:.0f} KB cpu {row['gateway_cpu_pct']:.0f}% "
                         f"(clients {row['bench_cpu_pct']:.0f}%, machine "
                         f"{row['machine_busy_pct']:.0f}%) "
                         f"lag p99 {row['lag_p99_ms']:.1f} ms conns {row['connections']} "
                         f"frames/s {row['frames_per_s']:.0f}")
                last, last_frames, last_cpu, last_t = counts, frames, cpu, now
                last_own, last_jiffies = own, jiffies
                if now >= self.stop_at_mono - 0.05:
                    return

    def frames(self) -> int:
        """Event frames received by all held connections so far."""
        return sum(peer.conn.frames for peer in self.held if peer.conn is not None)

    # -- the whole run

    async def run(self) -> dict[str, Any]:
        """Connect, drive for ``--duration`` seconds, drain, check; return the figures."""
        ns = self.ns
        workspace = self.gw.home / ".openclaw" / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / NOTE_FILE).write_text(NOTE_TEXT + "\n", encoding="utf-8")
        connect_s = await self.connect_all()
        progress(f"{len(self.held) + 1} connections held ({ns.ui_clients} Control UI, "
                 f"{ns.followers} log followers) after {connect_s:.1f} s")
        probe = await asyncio.to_thread(Probe, self.gw, ns.probe_every)
        try:
            await self.add_cron_jobs()
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            self.stop_at_mono = started + ns.duration
            self.stop_at = loop.time() + ns.duration
            drivers = [
                self.sampler(probe, started),
                self.paced("send", ns.send_rate, self.one_send),
                self.paced("inbound", ns.inbound_rate, self.one_inbound),
                self.paced("chat", ns.chat_rate, self.one_chat),
                self.paced("tool", ns.tool_rate, self.one_tool),
                self.paced("call", ns.call_rate, self.one_call),
                self.cli_runs(),
                *(self.follow(peer) for peer in self.followers),
            ]
            await asyncio.gather(*drivers)
            progress("load stopped; draining")
            assert self.sender is not None
            for job_id in self.cron_ids:
                await self.sender.call("cron.remove", {"id": job_id})
            await self.drain()
        finally:
            await asyncio.to_thread(probe.stop)
        return await self.check()

    async def drain(self) -> None:
        """Wait for the work in flight, the assistant's answers and the cron deliveries."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=TURN_TIMEOUT_S)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sent = await asyncio.to_thread(self.fakes.call, "sent")
            replies = sum(1 for chat, _ in sent if chat in INBOUND_CHATS)
            cron = sum(1 for chat, _ in sent if isinstance(chat, int) and chat >= CRON_CHAT_BASE
                       and chat < CRON_CHAT_BASE + self.ns.cron_jobs)
            delivered = sum(1 for entry in self.monitor.cron_finished
                            if entry.get("status") == "ok")
            if replies >= len(self.inbound_keys) and cron >= delivered and not self.running():
                return
            await asyncio.sleep(0.5)

    def running(self) -> int:
        """Runs the monitor saw start (inbound, cron) without a terminal ``chat`` event."""
        return sum(self.in_flight.values())

    async def check(self) -> dict[str, Any]:
        """Every invariant; the figures."""
        problems: list[str] = []
        sent = await asyncio.to_thread(self.fakes.call, "sent")
        by_token: dict[str, int] = {}
        for chat, text in sent:
            for token in re.findall(r"(snd\d+x|inb\d+x)", text or ""):
                key = f"{chat}:{token}"
                by_token[key] = by_token.get(key, 0) + 1
        lost = [n for n in self.sent_keys if by_token.get(f"{SEND_CHAT}:snd{n}x", 0) == 0]
        twice = [k for k, count in by_token.items() if count > 1]
        unanswered = [n for chat, n in self.inbound_keys
                      if by_token.get(f"{chat}:inb{n}x", 0) == 0]
        if lost:
            problems.append(f"{len(lost)} sends answered but never delivered (first: "
                            f"snd{lost[0]}x)")
        if twice:
            problems.append(f"{len(twice)} messages delivered more than once (first: {twice[0]})")
        if unanswered:
            problems.append(f"{len(unanswered)} inbound messages never answered "
                            f"(first: inb{unanswered[0]}x)")
        cron_ok = [e for e in self.monitor.cron_finished if e.get("status") == "ok"]
        cron_bad = [e for e in self.monitor.cron_finished if e.get("status") != "ok"]
        cron_sent = sum(1 for chat, _ in sent if isinstance(chat, int)
                        and CRON_CHAT_BASE <= chat < CRON_CHAT_BASE + self.ns.cron_jobs)
        if cron_bad:
            problems.append(f"{len(cron_bad)} cron runs did not end ok (first: "
                            f"{cron_bad[0]!r:.200})")
        if cron_sent != len(cron_ok):
            problems.append(f"{len(cron_ok)} cron runs ended ok but {cron_sent} replies "
                            f"reached their chats")
        if self.monitor.gaps:
            problems.append(f"the monitor's event seq had {self.monitor.gaps} gaps")
        dropped = [p for p in self.held if p.closed_early]
        if dropped:
            problems.append(f"{len(dropped)} held clients were disconnected")
        if self.counters.errors:
            problems.append(f"{len(self.counters.errors)} requests failed (first: "
                            f"{self.counters.errors[0]})")
        model_calls = await asyncio.to_thread(self.fakes.call, "model_calls")
        return {"problems": problems, "sent": len(sent), "modelCalls": model_calls,
                "cronOk": len(cron_ok), "cronSent": cron_sent,
                "inboundEvents": self.monitor.messages, "lostSends": len(lost),
                "duplicates": len(twice), "unanswered": len(unanswered)}

    async def close(self) -> None:
        """Close every held connection."""
        await asyncio.gather(*(peer.close() for peer in self.held), return_exceptions=True)


# --------------------------------------------------------------------------- verdict, plot


def verdict(ns: argparse.Namespace, rows: list[dict[str, float]], lags: list[float]
            ) -> tuple[dict[str, float], list[str]]:
    """Slopes over the second half of the rows, lag figures; the bounds they broke."""
    half = rows[len(rows) // 2:]
    times = [row["t_s"] for row in half]
    figures = {
        "rssSlopeMBPerMin": slope_per_min(times, [row["rss_mb"] for row in half]),
        "fdSlopePerMin": slope_per_min(times, [row["fds"] for row in half]),
        "lagP50Ms": percentile(lags, 50) if lags else float("nan"),
        "lagP99Ms": percentile(lags, 99) if lags else float("nan"),
        "lagMaxMs": max(lags) if lags else float("nan"),
    }
    broken: list[str] = []
    if len(half) < 3:
        broken.append(f"only {len(rows)} samples: run longer or sample more often "
                      "(--duration, --interval)")
    if figures["rssSlopeMBPerMin"] > ns.max_rss_slope:
        broken.append(f"RSS grows {figures['rssSlopeMBPerMin']:.2f} MB/min over the second "
                      f"half (bound {ns.max_rss_slope}, --max-rss-slope)")
    if figures["fdSlopePerMin"] > ns.max_fd_slope:
        broken.append(f"open descriptors grow {figures['fdSlopePerMin']:.2f}/min over the "
                      f"second half (bound {ns.max_fd_slope}, --max-fd-slope)")
    if not lags:
        broken.append("the lag probe took no samples")
    else:
        if figures["lagP99Ms"] > ns.max_lag_p99:
            broken.append(f"event-loop lag p99 {figures['lagP99Ms']:.1f} ms > "
                          f"{ns.max_lag_p99} ms (--max-lag-p99)")
        if figures["lagMaxMs"] > ns.max_lag_max:
            broken.append(f"event-loop lag max {figures['lagMaxMs']:.1f} ms > "
                          f"{ns.max_lag_max} ms (--max-lag-max)")
    return figures, broken


def plot(rows: list[dict[str, float]], path: Path, title: str) -> str | None:
    """Write the rows as a PNG; None, or why no plot was written."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no plot written"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [row["t_s"] for row in rows]
    fig, axes = plt.subplots(5, 1, figsize=(10, 13), sharex=True)
    ax = axes[0]
    ax.plot(t, [r["rss_mb"] for r in rows], color="tab:blue", label="VmRSS (MB)")
    ax.set_ylabel("VmRSS (MB)")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    twin.plot(t, [r["fds"] for r in rows], color="tab:orange", label="open fds")
    twin.set_ylabel("open fds")
    twin.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left")
    twin.legend(loc="lower right")
    ax = axes[1]
    ax.plot(t, [r["db_kb"] / 1024 for r in rows], label="SQLite databases (MB)")
    ax.plot(t, [r["wal_kb"] / 1024 for r in rows], label="WAL (MB)")
    ax.set_ylabel("MB")
    ax.legend(loc="upper left")
    ax = axes[2]
    ax.plot(t, [r["lag_p50_ms"] for r in rows], label="p50")
    ax.plot(t, [r["lag_p99_ms"] for r in rows], label="p99")
    ax.plot(t, [r["lag_max_ms"] for r in rows], label="max")
    ax.set_ylabel("health round trip (ms)")
    ax.set_yscale("log")
    ax.legend(loc="upper left")
    ax = axes[3]
    for name, label in (("gateway_cpu_pct", "gateway"), ("bench_cpu_pct", "clients (this process)"),
                        ("machine_busy_pct", "machine (% of all cores)")):
        ax.plot(t, [r[name] for r in rows], label=label)
    ax.set_ylabel("CPU %")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    ax = axes[4]
    for name, label in (("sends_per_s", "sends"), ("inbound_per_s", "inbound answered"),
                        ("turns_per_s", "chat.send turns"), ("tool_turns_per_s", "tool turns"),
                        ("cron_runs_per_s", "cron runs"), ("calls_per_s", "one-shot calls")):
        ax.plot(t, [r[name] for r in rows], label=label)
    ax.set_ylabel("per second")
    ax.set_xlabel("seconds into the run")
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------- main


def gateway_config(fakes: Fakes) -> dict[str, Any]:
    """Telegram on the fake Bot API, the model on the fake server, ``echo *`` allowed."""
    return {
        "channels": {"telegram": {"botToken": BOT_TOKEN, "apiRoot": fakes.api_root,
                                  "allowFrom": list(INBOUND_CHATS), "pollTimeoutSeconds": 1}},
        "agents": {"defaults": {"model": f"local/{MODEL}"}},
        "models": {"providers": {"local": {"api": "openai-completions",
                                           "baseUrl": fakes.model_url, "apiKey": API_KEY}}},
        "tools": {"exec": {"security": "allowlist", "ask": "off", "allowlist": ["echo *"]}},
    }


def arguments() -> argparse.Namespace:
    """The command line."""
    args = parser(__doc__.splitlines()[0])
    add = args.add_argument
    add("--duration", type=float, default=600, help="seconds of load (default 600)")
    add("--clients", type=int, default=1000, help="connections held (default 1000)")
    add("--ui-clients", type=int, default=50,
        help="of which connected as the Control UI, subscribed (default 50)")
    add("--followers", type=int, default=10, help="of which follow logs.tail (default 10)")
    add("--send-rate", type=float, default=4, help="send per second (default 4)")
    add("--inbound-rate", type=float, default=1, help="inbound messages per second (default 1)")
    add("--chat-rate", type=float, default=1, help="chat.send turns per second (default 1)")
    add("--tool-rate", type=float, default=0.25, help="tool turns per second (default 0.25)")
    add("--call-rate", type=float, default=4, help="one-shot calls per second (default 4)")
    add("--cli-every", type=float, default=15,
        help="seconds between openclaw gateway call health subprocesses (0: none; default 15)")
    add("--cron-jobs", type=int, default=3, help="cron jobs (default 3)")
    add("--cron-every", type=float, default=10, help="their interval in s (>= 1; default 10)")
    add("--interval", type=float, default=5, help="seconds between samples (default 5)")
    add("--probe-every", type=float, default=0.1,
        help="seconds between the lag probe's health calls (default 0.1)")
    add("--max-rss-slope", type=float, default=2.0,
        help="bound on the RSS slope over the second half, MB/min (default 2)")
    add("--max-fd-slope", type=float, default=10.0,
        help="bound on the open-descriptor slope over the second half, per min (default 10)")
    add("--max-lag-p99", type=float, default=500.0, help="bound on lag p99, ms (default 500)")
    add("--max-lag-max", type=float, default=2000.0, help="bound on lag max, ms (default 2000)")
    add("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "soak",
        help="directory for soak.csv and soak.png (default bench/results/soak)")
    ns = parse(args, {"duration": 20, "clients": 100, "ui_clients": 10, "followers": 3,
                      "interval": 2, "cli_every": 5, "cron_every": 2})
    if ns.clients < ns.ui_clients + ns.followers + 3:
        args.error(f"--clients {ns.clients} is fewer than --ui-clients + --followers + 3 "
                   "(the monitor, the sender and the lag probe)")
    if ns.ui_clients < 1:
        args.error("--ui-clients must be at least 1 (they start the chat turns)")
    if ns.cron_every < 1:
        args.error("--cron-every must be at least 1 (the scheduler's minimum interval)")
    return ns


async def main_async(ns: argparse.Namespace, fakes: Fakes, home: Path) -> dict[str, Any]:
    """Start the gateway, run the soak, stop the gateway; the figures."""
    with gateway(config=gateway_config(fakes), home=home) as gw:
        progress(f"gateway pid {gw.pid} on {gw.url}; {ns.duration:.0f} s, "
                 f"{ns.clients} clients")
        soak = Soak(ns, gw, fakes, ns.out)
        try:
            async with asyncio.timeout(ns.duration + RUN_MARGIN_S):
                data = await soak.run()
        except TimeoutError:
            raise SystemExit(f"soak: FAILED: the run did not end within {RUN_MARGIN_S} s "
                             "of its duration (something hangs)") from None
        finally:
            await soak.close()
        data.update(rows=soak.rows, lags=soak.lag_all, counters=soak.counters,
                    turnMs=soak.turn_ms, sendMs=soak.send_ms)
        data["alive"] = gw.alive()
        data["stopStatus"] = gw.stop()
    return data


def main() -> None:
    """Run the soak, write CSV and PNG, print the figures, exit 1 with the reason on failure."""
    ns = arguments()
    ns.out.mkdir(parents=True, exist_ok=True)
    nofile = raise_nofile()
    if nofile < ns.clients + 200:
        raise SystemExit(f"soak: RLIMIT_NOFILE {nofile} is too low for {ns.clients} clients; "
                         "raise the hard limit (ulimit -Hn) or use fewer --clients")
    fakes = Fakes()
    home = Path(tempfile.mkdtemp(prefix="openclaw-soak-"))
    wall = time.perf_counter()
    try:
        data = asyncio.run(main_async(ns, fakes, home))
    finally:
        fakes.stop()
        shutil.rmtree(home, ignore_errors=True)
    counters: Counters = data["counters"]
    rows: list[dict[str, float]] = data["rows"]
    figures, broken = verdict(ns, rows, data["lags"])
    problems = broken + data["problems"]
    if not data["alive"] or data["stopStatus"] != 0:
        problems.append(f"the gateway did not stop cleanly (alive {data['alive']}, "
                        f"exit {data['stopStatus']})")
    title = (f"soak: {ns.clients} clients, {ns.duration:.0f} s, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    plot_note = plot(rows, ns.out / "soak.png", title) if rows else "no samples: no plot"
    duration = ns.duration
    results = [
        Result("soak_rss_slope", "RSS slope, second half", figures["rssSlopeMBPerMin"],
               "MB/min", ns.max_rss_slope),
        Result("soak_fd_slope", "open fds slope, second half", figures["fdSlopePerMin"],
               "/min", ns.max_fd_slope),
        Result("soak_lag_p99", "event-loop lag (health RTT) p99", figures["lagP99Ms"], "ms",
               ns.max_lag_p99),
        Result("soak_lag_max", "  max", figures["lagMaxMs"], "ms", ns.max_lag_max),
        Result("soak_lag_p50", "  p50", figures["lagP50Ms"], "ms"),
        Result("soak_rss_first", "VmRSS, first sample", rows[0]["rss_mb"] if rows else 0, "MB"),
        Result("soak_rss_last", "VmRSS, last sample", rows[-1]["rss_mb"] if rows else 0, "MB"),
        Result("soak_fds_last", "open fds, last sample", rows[-1]["fds"] if rows else 0, ""),
        Result("soak_wal_max", "WAL size, max", max((r["wal_kb"] for r in rows), default=0),
               "KB"),
        Result("soak_db_last", "SQLite databases, last", rows[-1]["db_kb"] if rows else 0, "KB"),
        Result("soak_sends", "sends delivered", counters.sends / duration, "/s"),
        Result("soak_inbound", "inbound messages (each answered once)",
               counters.inbound / duration, "/s"),
        Result("soak_turns", "chat.send turns", counters.turns / duration, "/s"),
        Result("soak_tool_turns", "tool turns", counters.tool_turns / duration, "/s"),
        Result("soak_cron", "cron runs", counters.cron_runs / duration, "/s"),
        Result("soak_calls", "one-shot calls", counters.calls / duration, "/s"),
        Result("soak_cli", "openclaw gateway call health runs", counters.cli_runs, ""),
        Result("soak_frames", "event frames received by all clients",
               sum(r["frames_per_s"] for r in rows) / max(len(rows), 1), "/s"),
        Result("soak_turn_p99", "chat.send to final, p99",
               percentile(data["turnMs"], 99) if data["turnMs"] else 0, "ms"),
        Result("soak_send_p99", "send answered, p99",
               percentile(data["sendMs"], 99) if data["sendMs"] else 0, "ms"),
        Result("soak_errors", "failed requests", len(counters.errors), "", 0),
    ]
    notes = [f"samples in {ns.out / 'soak.csv'}", f"model calls {data['modelCalls']}, "
             f"messages the fake Bot API received {data['sent']}, cron runs ok "
             f"{data['cronOk']} (replies delivered {data['cronSent']})",
             f"total wall {time.perf_counter() - wall:.0f} s"]
    if counters.skipped:
        notes.append(f"slots skipped because earlier work was still going: {counters.skipped}")
    if plot_note:
        notes.append(plot_note)
    else:
        notes.append(f"plot in {ns.out / 'soak.png'}")
    notes += [f"FAILED: {problem}" for problem in problems]
    report("soak", results, ns.json, notes=notes,
           extra={"rows": rows, "figures": figures, "problems": problems,
                  "skipped": counters.skipped, "errors": counters.errors[:20]})
    if problems:
        sys.stderr.write(f"soak: FAILED: {problems[0]}"
                         f"{f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''}\n")
        raise SystemExit(1)
    sys.stderr.write("soak: passed\n")


if __name__ == "__main__":
    main()
