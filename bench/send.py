"""``send`` through the SQLite ledger to a loopback Bot API (targets: >= 500/s, CLI 200 ms).

A gateway runs under an isolated HOME with one Telegram account pointed at the test
suite's fake Bot API (``tests/fake_telegram.py``, ``FakeTelegram``), with its ledger
(``~/.openclaw/gateway.db``, SQLite WAL, ``synchronous=NORMAL``) on disk in its
state dir, as always. The fake runs in a child process of its own, so its CPU time
can be read from ``/proc`` and its threads do not share a GIL with the benchmark's
clients; it is driven over a pipe (``delay``, what it ``sent``). It adds no latency
(``delay`` 0) unless noted.

The fake is a stdlib ``ThreadingHTTPServer`` and, as shipped, leaves Nagle's
algorithm on: it writes a response's headers and body with two ``send`` calls, so on
a keep-alive connection the body waits for the client's delayed ACK, about 40 ms
per request. That would measure the fake, not the gateway, so by default the fake's
accepted sockets get ``TCP_NODELAY`` (its handler's stdlib
``disable_nagle_algorithm`` switch, set in the child process; nothing else changes).
``--fake-as-shipped`` runs everything against the unmodified fake, and every run
also times a second, unmodified fake alone for comparison. Measured:

* the fake alone: ``--fake-requests`` direct ``sendMessage`` calls with httpx from
  ``CALLS_PER_ACCOUNT`` threads (one keep-alive ``httpx.Client`` each), and with one
  stock ``httpx.AsyncClient`` and as many calls in flight (for comparison with the
  gateway's transport): rate, latency, the fake's and the client's CPU per request;
* the Telegram channel alone: as many ``TelegramChannel.send`` calls, as many in flight
  as the gateway allows per account (``CALLS_PER_ACCOUNT``), in this process (the
  gateway's channel object without ledger or websocket); then
  again with httpcore's ``current_async_library()`` answering "asyncio" at once
  (it starts with ``import sniffio``, a failed import on every lock httpcore sets
  up when sniffio is not installed);
* the ledger alone, in this process: ``get`` + ``begin`` + ``attempt`` + ``sent`` per
  new key, and ``get`` per replayed key, on a file database opened like the
  gateway's (``openclaw.store.db.open_database``);
* ``--sequential`` sends one after another on one connection
  (``openclaw.client.aio.AsyncGatewayClient``), distinct keys: p50, p99, sends/s;
* ``--concurrent`` sends, ``--in-flight`` at a time from as many workers spread over
  ``--connections`` connections, distinct keys: sends/s overall (target >= 500),
  p50/p99, CPU per send of the gateway, the fake and the clients;
* ``--replays`` sends of keys already sent (answered from the ledger), the same
  number in flight: sends/s, p50; each answer must equal the first one. Then as
  many sequential replays as ``--sequential`` allows, for a p50 without queueing;
* for context, ``--delay-sends`` sends with the fake delaying each ``sendMessage`` by
  ``--delay-ms`` (the 8-per-account limit then caps the rate at 8 / delay);
* ``openclaw message send --target 777 --message hi`` end to end: the venv's console
  script spawned with the gateway's HOME (it finds the port in the runtime record
  and the token in the state dir), timed to the reaped exit, median of ``--runs``
  and p90 (target <= 200 ms); each run must exit 0 and print ``sent: message``.
  ``openclaw gateway call health`` runs round-robin with it, for the CLI's start-up.

At the end the fake's record must hold exactly one delivery per distinct key sent
(API and CLI alike) and no text twice; anything else is an error (exit status 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import (
    Gateway,
    Result,
    child_env,
    cpu_seconds,
    openclaw_executable,
    parser,
    progress,
    report,
    summary,
    time_commands,
)
from openclaw.gateway.sending import CALLS_PER_ACCOUNT

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

RATE_TARGET = 500.0
CLI_TARGET_MS = 200.0
TOKEN = "123456:BENCH-token-abc"
CHAT = "777"
FAKE_CHAT = 999  # the fake-alone calls go here, so they are not counted as gateway sends


# --------------------------------------------------------------------------- the fake


def fake_server(conn: Any, token: str, nodelay: bool) -> None:
    """Child process: run a FakeTelegram and answer commands from the pipe.

    ``nodelay`` sets TCP_NODELAY on the fake's accepted sockets (the stdlib
    ``StreamRequestHandler.disable_nagle_algorithm`` switch of its handler class).
    """
    import fake_telegram

    fake_telegram._Handler.disable_nagle_algorithm = nodelay
    fake = fake_telegram.FakeTelegram(token=token).start()
    conn.send(fake.api_root)
    while True:
        command, *args = conn.recv()
        if command == "delay":
            fake.delay(*args)
            conn.send(None)
        elif command == "sent":
            conn.send([(entry["chat_id"], entry["text"]) for entry in fake.sent])
        elif command == "stop":
            fake.stop()
            conn.send(None)
            return


class FakeProcess:
    """A FakeTelegram in a child process (``spawn``), driven over a pipe."""

    def __init__(self, token: str, *, nodelay: bool) -> None:
        """Start the child and wait for its ``api_root``."""
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=fake_server, args=(child, token, nodelay),
                                       daemon=True)
        self.process.start()
        self.token = token
        self.nodelay = nodelay
        self.api_root: str = self.conn.recv()
        self.pid = int(self.process.pid or 0)
        self.lock = threading.Lock()

    def call(self, *command: Any) -> Any:
        """One command, its answer."""
        with self.lock:
            self.conn.send(command)
            return self.conn.recv()

    def delay(self, method: str, seconds: float) -> None:
        """Delay every call of ``method`` by ``seconds`` (0 for none)."""
        self.call("delay", method, seconds)

    def sent(self) -> list[tuple[Any, str | None]]:
        """(chat_id, text) of every delivery the fake recorded, in order."""
        result: list[tuple[Any, str | None]] = self.call("sent")
        return result

    def url(self, method: str) -> str:
        """``{api_root}/bot{token}/{method}``."""
        return f"{self.api_root}/bot{self.token}/{method}"

    def stop(self) -> None:
        """Stop the fake and reap the child."""
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self.call("stop")
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def fake_alone_threads(fake: FakeProcess, requests: int, threads: int) -> dict[str, float]:
    """``requests`` direct sendMessage calls from ``threads`` threads (httpx.Client each)."""
    import httpx

    local = threading.local()
    clients: list[httpx.Client] = []
    url = fake.url("sendMessage")

    def one(index: int) -> float:
        """One call on this thread's keep-alive client; its ms."""
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=30)
            clients.append(client)
        started = time.perf_counter()
        response = client.post(url, json={"chat_id": FAKE_CHAT, "text": f"direct {index}"})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"fake answered {response.status_code}: {response.text[:200]}")
        return elapsed

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(threads * 4)))  # open the connections, warm up
        fake_cpu = cpu_seconds(fake.pid)
        own_cpu = time.process_time()
        started = time.perf_counter()
        samples = list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
        fake_cpu = cpu_seconds(fake.pid) - fake_cpu
    for client in clients:
        client.close()
    return {"rate": requests / elapsed, "fakeCpuUs": fake_cpu * 1e6 / requests,
            "clientCpuUs": own_cpu * 1e6 / requests, **summary(samples)}


async def timed_in_flight(fake: FakeProcess, call: Any, requests: int,
                          in_flight: int) -> dict[str, float]:
    """Run ``await call(index)`` for ``requests`` indices, ``in_flight`` at a time (after
    a warm-up of 4 each); return the rate, latency summary and CPU per call of the fake
    and of this process."""
    samples: list[float] = []

    async def worker(indices: Any) -> None:
        """Calls one after another, until the shared iterator runs out."""
        for index in indices:
            started = time.perf_counter()
            await call(index)
            samples.append((time.perf_counter() - started) * 1000)

    warm = iter(range(in_flight * 4))
    await asyncio.gather(*(worker(warm) for _ in range(in_flight)))
    samples.clear()
    indices = iter(range(requests))
    fake_cpu = cpu_seconds(fake.pid)
    own_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(indices) for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    own_cpu = time.process_time() - own_cpu
    fake_cpu = cpu_seconds(fake.pid) - fake_cpu
    return {"rate": requests / elapsed, "fakeCpuUs": fake_cpu * 1e6 / requests,
            "clientCpuUs": own_cpu * 1e6 / requests, **summary(samples)}


async def fake_alone_async(fake: FakeProcess, requests: int, in_flight: int) -> dict[str, float]:
    """``requests`` direct sendMessage calls, ``in_flight`` at a time on one httpx.AsyncClient."""
    import httpx

    url = fake.url("sendMessage")
    async with httpx.AsyncClient(timeout=30) as client:

        async def call(index: int) -> None:
            response = await client.post(url, json={"chat_id": FAKE_CHAT,
                                                    "text": f"async {index}"})
            if response.status_code != 200:
                raise RuntimeError(f"fake answered {response.status_code}")

        return await timed_in_flight(fake, call, requests, in_flight)


async def channel_alone(fake: FakeProcess, requests: int, in_flight: int) -> dict[str, float]:
    """``requests`` ``TelegramChannel.send`` calls, ``in_flight`` at a time, in this process.

    The gateway's own channel object (its transport, request building and answer
    decoding) without the gateway around it: no ledger, no websocket.
    """
    from openclaw.channels.base import OutboundMessage
    from openclaw.channels.telegram import TelegramAccount
    from openclaw.channels.telegram.bot import TelegramChannel

    account = TelegramAccount(account_id="default", token=fake.token, token_source="config",
                              api_root=fake.api_root, allow_from=frozenset(), poll_timeout_s=1)
    channel = TelegramChannel(account)

    async def call(index: int) -> None:
        receipt = await channel.send(OutboundMessage(str(FAKE_CHAT), f"ch {index}"))
        if not receipt.message_id:
            raise RuntimeError(f"no message id: {receipt!r}")

    try:
        return await timed_in_flight(fake, call, requests, in_flight)
    finally:
        await channel.close()


@contextlib.contextmanager
def sniffio_check_skipped() -> Any:
    """Make httpcore's ``current_async_library()`` answer "asyncio" without importing.

    httpcore calls it for every lock, semaphore and event it sets up, and it starts
    with ``import sniffio``; when sniffio is not installed (anyio no longer depends on
    it) every call is a failed import, which searches ``sys.path`` anew each time.
    """
    import httpcore._synchronization as sync

    original = sync.current_async_library
    sync.current_async_library = lambda: "asyncio"
    try:
        yield
    finally:
        sync.current_async_library = original


def ledger_alone(count: int) -> dict[str, float]:
    """The ledger's statements per new key and per replay, on a file DB in a temp dir."""
    from openclaw.store.db import open_database
    from openclaw.store.ledger import Ledger

    root = Path(tempfile.mkdtemp(prefix="openclaw-bench-ledger-"))
    try:
        db = open_database(root / "gateway.db")
        ledger = Ledger(db)
        request = {"to": CHAT, "text": "x", "media": []}
        result = {"runId": "", "messageId": "1000", "channel": "telegram", "chatId": CHAT,
                  "accountId": "default"}
        deadline = int(time.time() * 1000) + 60_000
        for key in (f"warm-{n}" for n in range(100)):
            ledger.get(key)
            ledger.begin(key, "telegram", "default", CHAT, request, deadline)
        started = time.perf_counter()
        for n in range(count):
            key = f"key-{n}"
            if ledger.get(key) is not None:
                raise RuntimeError(f"{key} exists")
            ledger.begin(key, "telegram", "default", CHAT, request, deadline)
            ledger.attempt(key)
            ledger.sent(key, {**result, "runId": key})
        new_key = (time.perf_counter() - started) / count
        started = time.perf_counter()
        for n in range(count):
            if ledger.get(f"key-{n}") is None:
                raise RuntimeError(f"key-{n} missing")
        replay = (time.perf_counter() - started) / count
        db.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"newKeyUs": new_key * 1e6, "replayUs": replay * 1e6, "n": count}


# --------------------------------------------------------------------------- sends


def wait_ready(gateway: Gateway, timeout: float = 20.0) -> None:
    """Poll ``/readyz`` until 200 (the Telegram account connected; there is no event)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/readyz", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise RuntimeError("gateway never became ready:\n" + gateway.output) from None
        time.sleep(0.05)


class Sender:
    """Connections to the gateway, and timed ``send`` calls over them."""

    def __init__(self, gateway: Gateway, fake: FakeProcess, connections: int) -> None:
        """Describe; :meth:`open` connects."""
        self.gateway = gateway
        self.fake = fake
        self.count = connections
        self.clients: list[Any] = []
        self.keys: list[str] = []  # every distinct key sent, in order
        self.results: dict[str, dict[str, Any]] = {}

    async def open(self) -> None:
        """Connect ``connections`` AsyncGatewayClients."""
        from openclaw.client.aio import AsyncGatewayClient

        for _ in range(self.count):
            client = AsyncGatewayClient(self.gateway.url, token=self.gateway.token,
                                        client_id="cli", mode="cli", reconnect=False)
            await client.connect()
            self.clients.append(client)

    async def close(self) -> None:
        """Close every connection."""
        for client in self.clients:
            await client.close()

    async def one(self, client: Any, key: str, replay: bool) -> float:
        """One ``send`` of ``key`` (text = key); its ms. Checks replays against the first."""
        params = {"to": CHAT, "message": key, "idempotencyKey": key}
        started = time.perf_counter()
        result = await client.call("send", params, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if replay:
            if result != self.results[key]:
                raise RuntimeError(f"replay of {key} answered {result!r:.200}, "
                                   f"first {self.results[key]!r:.200}")
        else:
            if result.get("runId") != key or not result.get("messageId"):
                raise RuntimeError(f"send {key}: unexpected result {result!r:.300}")
            self.results[key] = result
            self.keys.append(key)
        return elapsed

    async def run(self, keys: list[str], in_flight: int, *, replay: bool = False,
                  ) -> dict[str, Any]:
        """Send ``keys`` with ``in_flight`` workers over the connections (round-robin)."""
        samples: list[float] = []
        queue = iter(keys)

        async def worker(client: Any) -> None:
            """Sends one after another, until the shared iterator runs out."""
            for key in queue:
                samples.append(await self.one(client, key, replay))

        workers = [worker(self.clients[n % len(self.clients)]) for n in range(in_flight)]
        gateway_cpu = cpu_seconds(self.gateway.pid)
        fake_cpu = cpu_seconds(self.fake.pid)
        own_cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
        fake_cpu = cpu_seconds(self.fake.pid) - fake_cpu
        gateway_cpu = cpu_seconds(self.gateway.pid) - gateway_cpu
        count = len(keys)
        return {
            "rate": count / elapsed,
            "seconds": elapsed,
            "gatewayCpuUs": gateway_cpu * 1e6 / count,
            "fakeCpuUs": fake_cpu * 1e6 / count,
            "clientCpuUs": own_cpu * 1e6 / count,
            "gatewayCpuShare": gateway_cpu / elapsed,
            **summary(samples),
        }


async def send_phases(fake: FakeProcess, ns: Any, sender: Sender) -> dict[str, dict[str, Any]]:
    """Warm up, then the sequential, concurrent, replay and delayed runs."""
    await sender.open()
    try:
        progress(f"warm-up: {ns.warmup} sends, {ns.in_flight} in flight")
        await sender.run([f"warm-{n}" for n in range(ns.warmup)], ns.in_flight)
        data: dict[str, dict[str, Any]] = {}
        progress(f"sequential: {ns.sequential} sends on one connection")
        data["sequential"] = await sender.run([f"seq-{n}" for n in range(ns.sequential)], 1)
        progress(f"concurrent: {ns.concurrent} sends, {ns.in_flight} in flight over "
                 f"{ns.connections} connection(s)")
        concurrent_keys = [f"conc-{n}" for n in range(ns.concurrent)]
        data["concurrent"] = await sender.run(concurrent_keys, ns.in_flight)
        replays = [concurrent_keys[n % len(concurrent_keys)] for n in range(ns.replays)]
        progress(f"replay: {ns.replays} sends of keys already sent, {ns.in_flight} in flight")
        data["replay"] = await sender.run(replays, ns.in_flight, replay=True)
        sequential_replays = replays[: min(ns.replays, ns.sequential)]
        progress(f"replay: {len(sequential_replays)} sequential")
        data["replay_sequential"] = await sender.run(sequential_replays, 1, replay=True)
        if ns.delay_sends and ns.delay_ms > 0:
            progress(f"delayed: {ns.delay_sends} sends, fake delay {ns.delay_ms:g} ms, "
                     f"{ns.in_flight} in flight")
            fake.delay("sendMessage", ns.delay_ms / 1000)
            try:
                data["delayed"] = await sender.run(
                    [f"delay-{n}" for n in range(ns.delay_sends)], ns.in_flight)
            finally:
                fake.delay("sendMessage", 0.0)
    finally:
        await sender.close()
    return data


def check_cli(name: str, stdout: bytes) -> None:
    """Reject a ``message send`` run that did not report a delivery, or a bad health run."""
    if name == "message_send" and not stdout.startswith(b"sent: message "):
        raise SystemExit(f"{name}: unexpected output: {stdout[:300]!r}")
    if name == "call_health" and b'"ok": true' not in stdout:
        raise SystemExit(f"{name}: unexpected output: {stdout[:300]!r}")


# --------------------------------------------------------------------------- main


def measure_fakes(ns: Any, fake: FakeProcess) -> dict[str, dict[str, float]]:
    """The fake alone: threads, httpx.AsyncClient (as is, and without the sniffio import)."""
    data: dict[str, dict[str, float]] = {}
    label = "with TCP_NODELAY" if fake.nodelay else "as shipped"
    progress(f"fake alone ({label}): {ns.fake_requests} sendMessage calls, "
             f"{CALLS_PER_ACCOUNT} threads")
    data["threads"] = fake_alone_threads(fake, ns.fake_requests, CALLS_PER_ACCOUNT)
    progress(f"fake alone ({label}): {ns.fake_requests} calls, httpx.AsyncClient, "
             f"{CALLS_PER_ACCOUNT} in flight")
    data["async"] = asyncio.run(fake_alone_async(fake, ns.fake_requests, CALLS_PER_ACCOUNT))
    progress(f"channel alone: {ns.fake_requests} TelegramChannel.send, "
             f"{CALLS_PER_ACCOUNT} in flight")
    data["channel"] = asyncio.run(channel_alone(fake, ns.fake_requests, CALLS_PER_ACCOUNT))
    progress("  again, httpcore's sniffio import skipped")
    with sniffio_check_skipped():
        data["channel_nosniff"] = asyncio.run(channel_alone(fake, ns.fake_requests,
                                                            CALLS_PER_ACCOUNT))
    if fake.nodelay and ns.shipped_requests:
        shipped = FakeProcess(TOKEN, nodelay=False)
        try:
            progress(f"fake alone (as shipped): {ns.shipped_requests} calls, "
                     f"{CALLS_PER_ACCOUNT} threads")
            data["shipped_threads"] = fake_alone_threads(shipped, ns.shipped_requests,
                                                         CALLS_PER_ACCOUNT)
        finally:
            shipped.stop()
    return data


def fake_rows(ns: Any, fake: FakeProcess, alone: dict[str, dict[str, float]]) -> list[Result]:
    """Result rows for the fake-alone measurements."""
    label = "TCP_NODELAY" if fake.nodelay else "as shipped"
    threads, async_ = alone["threads"], alone["async"]
    channel, nosniff = alone["channel"], alone["channel_nosniff"]
    rows = [
        Result("fake_threads_rate", f"fake Bot API alone ({label}): sendMessage per second, "
               f"httpx.Client x {CALLS_PER_ACCOUNT} threads (n={ns.fake_requests})",
               threads["rate"], "/s", detail=threads),
        Result("fake_threads_p50_ms", "  latency p50", threads["p50"], "ms"),
        Result("fake_threads_cpu_us", "  fake CPU per request", threads["fakeCpuUs"], "us"),
        Result("fake_async_rate", f"fake Bot API alone ({label}): sendMessage per second, "
               f"httpx.AsyncClient, {CALLS_PER_ACCOUNT} in flight", async_["rate"], "/s",
               detail=async_),
        Result("fake_async_p50_ms", "  latency p50", async_["p50"], "ms"),
        Result("fake_async_cpu_us", "  fake CPU per request", async_["fakeCpuUs"], "us"),
        Result("fake_async_client_cpu_us", "  httpx.AsyncClient CPU per request",
               async_["clientCpuUs"], "us"),
        Result("channel_alone_rate", "Telegram channel alone (TelegramChannel.send in this "
               f"process, {CALLS_PER_ACCOUNT} in flight): per second", channel["rate"], "/s",
               detail=channel),
        Result("channel_alone_p50_ms", "  latency p50", channel["p50"], "ms"),
        Result("channel_alone_cpu_us", "  channel (this process) CPU per send",
               channel["clientCpuUs"], "us"),
        Result("channel_nosniff_rate", "  same, httpcore's sniffio import skipped: per second",
               nosniff["rate"], "/s", detail=nosniff),
        Result("channel_nosniff_cpu_us", "    channel CPU per send", nosniff["clientCpuUs"],
               "us"),
    ]
    if "shipped_threads" in alone:
        shipped = alone["shipped_threads"]
        rows += [
            Result("fake_shipped_rate", "fake Bot API alone (as shipped, Nagle on): per "
                   f"second, httpx.Client x {CALLS_PER_ACCOUNT} threads (n={ns.shipped_requests})",
                   shipped["rate"], "/s", detail=shipped),
            Result("fake_shipped_p50_ms", "  latency p50", shipped["p50"], "ms"),
        ]
    return rows


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--sequential", type=int, default=500, help="sequential sends")
    args.add_argument("--concurrent", type=int, default=2000, help="concurrent sends")
    args.add_argument("--in-flight", type=int, default=50, help="sends in flight at a time")
    args.add_argument("--connections", type=int, default=5,
                      help="connections the in-flight workers share (default 5)")
    args.add_argument("--replays", type=int, default=1000, help="sends of keys already sent")
    args.add_argument("--warmup", type=int, default=200, help="unmeasured sends first")
    args.add_argument("--fake-requests", type=int, default=2000,
                      help="direct sendMessage calls to the fake, per variant")
    args.add_argument("--shipped-requests", type=int, default=400,
                      help="direct calls to an unmodified fake, for comparison (0 to skip)")
    args.add_argument("--fake-as-shipped", action="store_true",
                      help="leave Nagle's algorithm on in the fake (about 40 ms per request)")
    args.add_argument("--ledger-keys", type=int, default=2000, help="keys for the ledger alone")
    args.add_argument("--delay-ms", type=float, default=50.0,
                      help="fake delay per sendMessage in the delayed run (0 to skip)")
    args.add_argument("--delay-sends", type=int, default=400, help="sends in the delayed run")
    args.add_argument("--runs", type=int, default=20, help="measured CLI runs per variant")
    ns = args.parse_args()
    exe = openclaw_executable()
    progress(f"ledger alone: {ns.ledger_keys} keys")
    ledger = ledger_alone(ns.ledger_keys)
    fake = FakeProcess(TOKEN, nodelay=not ns.fake_as_shipped)
    try:
        progress(f"fake Bot API pid {fake.pid} at {fake.api_root}"
                 + ("" if fake.nodelay else " (as shipped: Nagle on)"))
        alone = measure_fakes(ns, fake)
        config = {"channels": {"telegram": {"botToken": TOKEN, "apiRoot": fake.api_root,
                                            "allowFrom": [4242], "pollTimeoutSeconds": 1}}}
        with Gateway(config=config) as gateway:
            wait_ready(gateway)
            progress(f"gateway pid {gateway.pid} on {gateway.url}, ready")
            sender = Sender(gateway, fake, ns.connections)
            data = asyncio.run(send_phases(fake, ns, sender))
            progress(f"CLI: {ns.runs} runs per variant (+2 warm-up)")
            env = child_env(gateway.home)
            samples = time_commands(
                {
                    "message_send": ([exe, "message", "send", "--target", CHAT, "--message",
                                      "hi"], env),
                    "call_health": ([exe, "gateway", "call", "health"], env),
                },
                ns.runs,
                check=check_cli,
            )
            cli_sends = 2 + ns.runs
            db_kb = sum(p.stat().st_size for p in gateway.state_dir.glob("gateway.db*")) / 1024
            sent = fake.sent()
            if not gateway.alive():
                raise SystemExit("the gateway died during the run:\n" + gateway.output[-2000:])
    finally:
        fake.stop()

    to_chat = [text for chat, text in sent if str(chat) == CHAT]
    expected = len(sender.keys) + cli_sends
    api_texts = Counter(text for text in to_chat if text != "hi")
    duplicates = sum(count - 1 for count in api_texts.values() if count > 1)
    missing = len(set(sender.keys) - set(api_texts))
    wall = {name: summary(values["wall"]) for name, values in samples.items()}
    cpu = {name: summary(values["cpu"]) for name, values in samples.items()}
    seq, conc, rep = data["sequential"], data["concurrent"], data["replay"]
    rep_seq = data["replay_sequential"]
    in_flight = f"{ns.in_flight} in flight"
    results = [
        Result("send_conc_rate",
               f"concurrent sends per second ({ns.concurrent}, {in_flight}, "
               f"{ns.connections} connections)",
               conc["rate"], "/s", RATE_TARGET, conc, at_least=True),
        Result("send_conc_p50_ms", "  latency p50", conc["p50"], "ms"),
        Result("send_conc_p99_ms", "  latency p99", conc["p99"], "ms"),
        Result("send_conc_gateway_cpu_us", "  gateway CPU per send", conc["gatewayCpuUs"], "us"),
        Result("send_conc_gateway_busy", "  gateway CPU busy (share of one core)",
               conc["gatewayCpuShare"] * 100, "%"),
        Result("send_conc_gateway_ceiling", "  gateway-CPU ceiling (one core / CPU per send)",
               1e6 / conc["gatewayCpuUs"], "/s"),
        Result("send_conc_fake_cpu_us", "  fake Bot API CPU per send", conc["fakeCpuUs"], "us"),
        Result("send_conc_client_cpu_us", "  benchmark clients' CPU per send",
               conc["clientCpuUs"], "us"),
        Result("send_seq_p50_ms", f"sequential send, one connection, p50 (n={ns.sequential})",
               seq["p50"], "ms", detail=seq),
        Result("send_seq_p99_ms", "  p99", seq["p99"], "ms"),
        Result("send_seq_rate", "  sends per second", seq["rate"], "/s"),
        Result("send_seq_gateway_cpu_us", "  gateway CPU per send", seq["gatewayCpuUs"], "us"),
        Result("send_replay_rate", f"replayed keys (from the ledger) per second ({ns.replays}, "
               f"{in_flight})", rep["rate"], "/s", detail=rep),
        Result("send_replay_p50_ms", "  latency p50", rep["p50"], "ms"),
        Result("send_replay_gateway_cpu_us", "  gateway CPU per replay", rep["gatewayCpuUs"],
               "us"),
        Result("send_replay_seq_p50_ms", f"replayed key, sequential, p50 (n={rep_seq['n']})",
               rep_seq["p50"], "ms", detail=rep_seq),
        Result("ledger_new_key_us", f"ledger alone: get + begin + attempt + sent per new key "
               f"(n={ledger['n']})", ledger["newKeyUs"], "us", detail=ledger),
        Result("ledger_replay_us", "  get per replayed key", ledger["replayUs"], "us"),
    ]
    if "delayed" in data:
        delayed = data["delayed"]
        ceiling = CALLS_PER_ACCOUNT / (ns.delay_ms / 1000)
        results += [
            Result("send_delayed_rate",
                   f"sends per second, fake delay {ns.delay_ms:g} ms ({ns.delay_sends}, "
                   f"{in_flight}; {CALLS_PER_ACCOUNT} calls in flight cap it at "
                   f"{ceiling:.0f}/s)",
                   delayed["rate"], "/s", detail=delayed),
            Result("send_delayed_p50_ms", "  latency p50", delayed["p50"], "ms"),
        ]
    results += fake_rows(ns, fake, alone)
    results += [
        Result("cli_message_send_ms",
               f"openclaw message send --target {CHAT} --message hi, median of {ns.runs}",
               wall["message_send"]["median"], "ms", CLI_TARGET_MS,
               {"wall": wall["message_send"], "cpu": cpu["message_send"]}),
        Result("cli_message_send_p90_ms", "  same, p90", wall["message_send"]["p90"], "ms"),
        Result("cli_message_send_cpu_ms", "  same, child CPU time, median",
               cpu["message_send"]["median"], "ms"),
        Result("cli_call_health_same_run_ms", f"gateway call health (same HOME), median of "
               f"{ns.runs}", wall["call_health"]["median"], "ms",
               detail={"wall": wall["call_health"], "cpu": cpu["call_health"]}),
        Result("send_delivered", f"messages the fake received for {expected} distinct keys",
               len(to_chat), "", detail={"expected": expected, "apiKeys": len(sender.keys),
                                         "cliSends": cli_sends}),
        Result("send_duplicates", "  duplicate deliveries", duplicates, ""),
        Result("send_ledger_kb", "  ledger on disk (gateway.db + WAL) at the end", db_kb, "KB"),
    ]
    sniffio = importlib.util.find_spec("sniffio") is not None
    report("send", results, ns.json, notes=[
        "fake Bot API (tests/fake_telegram.py) in its own process, "
        + ("TCP_NODELAY on its sockets" if fake.nodelay else "as shipped (Nagle on)")
        + "; delay 0 unless noted",
        f"gateway: at most {CALLS_PER_ACCOUNT} channel calls in flight per account; "
        "clients, fake and gateway share the machine's cores",
        f"sniffio {'is' if sniffio else 'is not'} importable here, so httpcore's per-lock "
        f"check {'is cheap' if sniffio else 'is a failed import each time'}",
        "CLI: wall time from just before the spawn to the reaped exit, env = the gateway's "
        "HOME (port from the runtime record, token from the state dir)",
    ], extra={"fakeNodelay": fake.nodelay, "sniffio": sniffio})
    if len(to_chat) != expected or duplicates or missing:
        raise SystemExit(f"delivery check failed: the fake received {len(to_chat)} messages "
                         f"for {expected} distinct keys ({duplicates} duplicates, "
                         f"{missing} keys missing)")


if __name__ == "__main__":
    main()
