"""``send`` through the SQLite ledger to a loopback Bot API (targets: >= 500/s, CLI 200 ms).

A gateway runs under an isolated HOME with one Telegram account pointed at the test
suite's fake Bot API (``tests/fake_telegram.py``, ``FakeTelegram``), with its ledger
(``~/.openclaw/gateway.db``, SQLite WAL, ``synchronous=NORMAL``) on disk in its
state dir, as always. The fake runs in a child process of its own, so its CPU time
can be read from ``/proc`` and its threads do not share a GIL with the benchmark's
clients; it is driven over a pipe (``delay``, what it ``sent``). It adds no latency
(``delay`` 0) unless noted. Measured:

* ``--sequential`` sends one after another on one connection
  (``openclaw.client.aio.AsyncGatewayClient``), distinct keys: p50, p99, sends/s;
* ``--concurrent`` sends, ``--in-flight`` at a time from as many workers spread over
  ``--connections`` connections, distinct keys: sends/s overall (target >= 500),
  p50/p99, CPU per send of the gateway, the fake and the clients;
* ``--replays`` sends of keys already sent (answered from the ledger), the same
  number in flight: sends/s, p50; each answer must equal the first one. Then as
  many sequential replays as ``--sequential`` allows, for a p50 without queueing;
* for context, ``--delay-sends`` sends with the fake delaying each ``sendMessage`` by
  ``--delay-ms`` (the gateway's per-account limit of calls in flight then caps the
  rate);
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
import time
from collections import Counter
from typing import Any

from _common import (
    PipedChild,
    Result,
    child_env,
    cpu_seconds,
    gateway,
    openclaw_executable,
    parse,
    parser,
    progress,
    report,
    summary,
    time_commands,
)
from fake_telegram import FakeTelegram, gateway_config
from harness import GatewayProcess
from openclaw.gateway.sending import CALLS_PER_ACCOUNT

RATE_TARGET = 500.0
CLI_TARGET_MS = 200.0
TOKEN = "123456:BENCH-token-abc"
CHAT = "777"


# --------------------------------------------------------------------------- the fake


def fake_server(conn: Any, token: str) -> None:
    """Child process: run a FakeTelegram and answer commands from the pipe."""
    fake = FakeTelegram(token=token).start()
    conn.send(fake.api_root)
    while True:
        command, *args = conn.recv()
        if command == "delay":
            fake.delay(*args)
            conn.send(None)
        elif command == "sent":
            conn.send(fake.deliveries())
        elif command == "stop":
            fake.stop()
            conn.send(None)
            return


class FakeProcess(PipedChild):
    """A FakeTelegram in a child process, driven over a pipe."""

    def __init__(self, token: str) -> None:
        """Start the child and wait for its ``api_root``."""
        super().__init__(fake_server, token)
        self.token = token
        self.api_root: str = self.greeting

    def delay(self, method: str, seconds: float) -> None:
        """Delay every call of ``method`` by ``seconds`` (0 for none)."""
        self.call("delay", method, seconds)

    def sent(self) -> list[tuple[Any, str | None]]:
        """(chat_id, text) of every delivery the fake recorded, in order."""
        result: list[tuple[Any, str | None]] = self.call("sent")
        return result


# --------------------------------------------------------------------------- sends


class Sender:
    """Connections to the gateway, and timed ``send`` calls over them."""

    def __init__(self, gateway: GatewayProcess, fake: FakeProcess, connections: int) -> None:
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
    args.add_argument("--delay-ms", type=float, default=50.0,
                      help="fake delay per sendMessage in the delayed run (0 to skip)")
    args.add_argument("--delay-sends", type=int, default=400, help="sends in the delayed run")
    args.add_argument("--runs", type=int, default=20, help="measured CLI runs per variant")
    ns = parse(args, quick={"sequential": 20, "concurrent": 100, "in_flight": 10,
                            "replays": 50, "warmup": 10, "delay_sends": 20, "runs": 2})
    exe = openclaw_executable()
    fake = FakeProcess(TOKEN)
    try:
        progress(f"fake Bot API pid {fake.pid} at {fake.api_root}")
        config = gateway_config(fake, [4242])  # the fake's token and api_root, via the pipe
        with gateway(config=config) as gw:
            gw.wait_ready(timeout=20)
            progress(f"gateway pid {gw.pid} on {gw.url}, ready")
            sender = Sender(gw, fake, ns.connections)
            data = asyncio.run(send_phases(fake, ns, sender))
            progress(f"CLI: {ns.runs} runs per variant (+2 warm-up)")
            env = child_env(gw.home)
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
            db_kb = sum(p.stat().st_size for p in gw.state_dir.glob("gateway.db*")) / 1024
            sent = fake.sent()
            if not gw.alive():
                raise SystemExit("the gateway died during the run:\n" + gw.output[-2000:])
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
    report("send", results, ns.json, notes=[
        "fake Bot API (tests/fake_telegram.py) in its own process; delay 0 unless noted",
        f"gateway: at most {CALLS_PER_ACCOUNT} channel calls in flight per account; "
        "clients, fake and gateway share the machine's cores",
        "CLI: wall time from just before the spawn to the reaped exit, env = the gateway's "
        "HOME (port from the runtime record, token from the state dir)",
    ])
    if len(to_chat) != expected or duplicates or missing:
        raise SystemExit(f"delivery check failed: the fake received {len(to_chat)} messages "
                         f"for {expected} distinct keys ({duplicates} duplicates, "
                         f"{missing} keys missing)")


if __name__ == "__main__":
    main()
