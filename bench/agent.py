"""``agent`` runs on the offline model, the gateway's own cost (target: first event <= 5 ms).

A gateway runs under an isolated HOME with no config, so ``agents.defaults.model`` is
``offline/echo``: the built-in offline model, which needs no network and streams its
reply word by word at once. Everything measured is therefore the gateway's own
overhead per run: the request, the run's rows in SQLite (``runs``, ``turns``; WAL,
``synchronous=NORMAL``), the session's turn, the ``agent`` events and the two
answers.

``agent`` answers twice on one request id: ``{runId, status: "accepted",
acceptedAt}`` at once, then the final. Between them the gateway broadcasts ``agent``
events ``{runId, seq, stream: "lifecycle"|"assistant", ts, data}`` to every client
holding ``operator.read``: a lifecycle ``start``, one ``assistant`` delta per word,
a lifecycle ``end``. Every message is ``--message`` (default ``hello``, which the
offline model answers with a 40-word greeting, so 42 events per run).

The clients are lean on purpose, because they share the machine's cores with the
gateway and every connection receives every run's events: plain asyncio transports
with websockets' sans-I/O protocol (``_common.LeanConnection``: no task per
connection), the frames decoded with msgspec. Each text frame is timestamped with
:func:`time.perf_counter` when its bytes come off the socket (the start of the
``data_received`` call that carried them), then routed by request id (answers) or
``runId`` (events, kept only on the connection that asked for the run). A request
is timed from just before its frame is written.
Measured:

* for comparison, ``--health`` ``health`` round trips on the sequential connection;
* ``--sequential`` runs one after another on one connection (the only one open),
  distinct keys, one session: p50/p99 of request -> accepted answer, -> first
  ``agent`` event (lifecycle start; target <= 5 ms p50), -> first assistant delta,
  -> final answer; runs/s; gateway CPU per run;
* ``--concurrent`` runs, ``--in-flight`` at a time from as many workers over
  ``--connections`` connections, each run on its own session key (so they run in
  parallel): runs/s, p50/p99 of request -> final, gateway and client CPU per run;
* ``--same-session`` runs on one session key, ``--session-in-flight`` at a time over
  the same connections: runs/s (runs of one session go one at a time, by design);
  the lifecycle events seen on one connection must never show two of them running;
* ``--replays`` requests for keys the concurrent phase finished (answered from the
  store), ``--in-flight`` at a time: runs/s, p50; then as many sequential replays as
  ``--sequential`` allows, for a p50 without queueing. Each answer must equal that
  key's first final, and no events may come for it;
* for comparison (``--compare-runs`` runs each, 0 to skip): the concurrent phase
  again with a one-word message the model echoes (``--short-message``, 7 events per
  run instead of 42), and again on one connection (so each event is written once,
  not once per connection).

CPU per run is the gateway's ``/proc/PID/stat`` delta over a phase divided by its
runs; the clients' figure is this process's ``time.process_time()`` delta. Every
run is checked: the interim answer says ``accepted``, the final has status ``ok``
and ``result.meta.offline`` true, the events' ``seq`` run 1..n with a lifecycle
``start`` first and ``end`` last, the first event comes after the accepted answer,
and the deltas concatenate to the final's text. Any failure is reported and makes
the exit status 1.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from _common import (
    LeanConnection,
    Result,
    cpu_times,
    gateway,
    parse,
    parser,
    progress,
    report,
    summary,
)
from harness import GatewayProcess

FIRST_EVENT_TARGET_MS = 5.0
RUN_TIMEOUT_S = 60.0
decode = msgspec.json.Decoder().decode  # frames: about 8x faster than json.loads here


@dataclass(eq=False)
class Call:
    """One plain request (``health``): its send time and the answer's arrival."""

    done: asyncio.Future[None]
    sent: float = 0.0
    answered: float = 0.0

    def on_res(self, now: float, frame: dict[str, Any]) -> None:
        """The answer arrived."""
        self.answered = now
        if frame.get("ok") is not True:
            self.done.set_exception(RuntimeError(f"request failed: {frame!r:.300}"))
        elif not self.done.done():
            self.done.set_result(None)


@dataclass(eq=False)
class Run:
    """One ``agent`` request as the client on its connection saw it."""

    key: str
    session: str
    conn: LeanConnection
    replay: bool
    done: asyncio.Future[None]
    sent: float = 0.0
    interim: str | None = None  # the first answer's status, when there are two
    accepted: float | None = None
    first_event: float | None = None
    first_kind: str | None = None  # "lifecycle:start", "assistant", ...
    first_delta: float | None = None
    last_event: float | None = None
    final_at: float | None = None
    final: dict[str, Any] | None = None
    deltas: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)

    def on_res(self, now: float, frame: dict[str, Any]) -> None:
        """The interim answer (accepted) or the final one."""
        if frame.get("ok") is not True:
            if not self.done.done():
                self.done.set_exception(RuntimeError(f"agent {self.key}: {frame!r:.300}"))
            return
        payload: dict[str, Any] = frame["payload"]
        status = payload.get("status")
        if self.interim is None and self.final is None and status in ("accepted", "in_flight"):
            self.interim = status
            self.accepted = now
            return
        self.final_at = now
        self.final = payload
        if not self.done.done():
            self.done.set_result(None)

    def on_event(self, now: float, payload: dict[str, Any]) -> None:
        """One ``agent`` event for this run."""
        stream = payload.get("stream")
        data = payload.get("data") or {}
        if self.first_event is None:
            self.first_event = now
            self.first_kind = f"{stream}:{data.get('phase')}" if stream == "lifecycle" else stream
        self.last_event = now
        self.seqs.append(payload.get("seq", -1))
        if stream == "assistant":
            if self.first_delta is None:
                self.first_delta = now
            self.deltas.append(data.get("text", ""))
        elif stream == "lifecycle":
            self.phases.append(str(data.get("phase")))

    def ms(self, at: float | None) -> float:
        """Milliseconds from the request to ``at``."""
        assert at is not None
        return (at - self.sent) * 1000


def run_problems(run: Run, first: dict[str, Any] | None = None) -> list[str]:
    """What is wrong with a finished run (nothing, normally).

    A replay (``first`` = that key's first final) must be answered once, with exactly
    the first final, and draw no events.
    """
    final = run.final or {}
    if run.replay:
        found = []
        if final != first:
            found.append(f"{run.key}: replay answered {final!r:.120}, first {first!r:.120}")
        if run.interim is not None or run.seqs:
            found.append(f"{run.key}: replay got an interim answer or events")
        return found
    found = []
    if run.interim != "accepted":
        found.append(f"{run.key}: first answer {run.interim!r}, not 'accepted'")
    result = final.get("result") or {}
    if final.get("status") != "ok":
        found.append(f"{run.key}: final status {final.get('status')!r}: {final!r:.200}")
    if (result.get("meta") or {}).get("offline") is not True:
        found.append(f"{run.key}: result.meta.offline is not true")
    payloads = result.get("payloads") or [{}]
    if "".join(run.deltas) != payloads[0].get("text"):
        found.append(f"{run.key}: deltas {''.join(run.deltas)!r:.80} != final text "
                     f"{payloads[0].get('text')!r:.80}")
    if not run.deltas:
        found.append(f"{run.key}: no assistant delta")
    if run.first_kind != "lifecycle:start" or run.phases != ["start", "end"]:
        found.append(f"{run.key}: first event {run.first_kind}, lifecycle {run.phases}")
    if run.seqs != list(range(1, len(run.seqs) + 1)):
        found.append(f"{run.key}: event seqs {run.seqs[:10]}...")
    if (run.accepted is not None and run.first_event is not None
            and run.first_event < run.accepted):
        found.append(f"{run.key}: first event before the accepted answer")
    if run.last_event is not None and run.final_at is not None and run.last_event > run.final_at:
        found.append(f"{run.key}: an event after the final answer")
    return found


# --------------------------------------------------------------------------- the bench


class Bench:
    """Connections to one gateway, the requests in flight, and timed phases."""

    def __init__(self, gateway: GatewayProcess, message: str) -> None:
        """Describe; :meth:`connect` opens connections."""
        self.gateway = gateway
        self.message = message
        self.conns: list[LeanConnection] = []
        self.by_request: dict[str, Run | Call] = {}
        self.by_run: dict[str, Run] = {}
        self.finals: dict[str, dict[str, Any]] = {}  # key -> first final
        self.problems: list[str] = []
        self.lifecycle_log: list[tuple[str, str]] | None = None
        self.foreign_events = 0  # agent events for runIds this process never asked for
        self._ids = itertools.count(1)

    async def connect(self, count: int) -> None:
        """Open connections until there are ``count``."""
        while len(self.conns) < count:
            conn = await LeanConnection.open(self.gateway.url, self.gateway.token,
                                             self.on_frame, index=len(self.conns))
            conn.closed.add_done_callback(lambda _, conn=conn: self.connection_lost(conn))
            self.conns.append(conn)

    async def close(self) -> None:
        """Close every connection."""
        await asyncio.gather(*(conn.close() for conn in self.conns), return_exceptions=True)
        self.conns = []

    def on_frame(self, conn: LeanConnection, now: float, data: bytes) -> None:
        """Route one frame: answers by request id, ``agent`` events by runId."""
        frame = decode(data)
        kind = frame.get("type")
        if kind == "res":
            pending = self.by_request.get(frame.get("id", ""))
            if pending is not None:
                pending.on_res(now, frame)
            return
        if kind != "event" or frame.get("event") != "agent":
            return
        payload = frame["payload"]
        if (self.lifecycle_log is not None and conn.index == 0
                and payload.get("stream") == "lifecycle"):
            self.lifecycle_log.append((payload["runId"], payload["data"]["phase"]))
        run = self.by_run.get(payload.get("runId", ""))
        if run is None:
            self.foreign_events += 1
        elif run.conn is conn:
            run.on_event(now, payload)

    def connection_lost(self, conn: LeanConnection) -> None:
        """Fail whatever still waits on ``conn``."""
        for pending in list(self.by_request.values()):
            owner = pending.conn if isinstance(pending, Run) else None
            if (owner is conn or owner is None) and not pending.done.done():
                pending.done.set_exception(ConnectionError(f"conn {conn.index} lost"))

    async def health(self, conn: LeanConnection) -> float:
        """One ``health`` round trip on ``conn``; its ms."""
        request_id = f"h{next(self._ids)}"
        call = Call(asyncio.get_running_loop().create_future())
        self.by_request[request_id] = call
        call.sent = conn.send({"type": "req", "id": request_id, "method": "health"})
        try:
            async with asyncio.timeout(RUN_TIMEOUT_S):
                await call.done
        finally:
            del self.by_request[request_id]
        return (call.answered - call.sent) * 1000

    async def one(self, conn: LeanConnection, key: str, session: str, message: str,
                  replay: bool) -> Run:
        """One ``agent`` request for ``key`` on ``session``, until its final answer."""
        request_id = f"a{next(self._ids)}"
        run = Run(key, session, conn, replay, asyncio.get_running_loop().create_future())
        self.by_request[request_id] = run
        self.by_run[key] = run
        params = {"message": message, "idempotencyKey": key, "sessionKey": session}
        run.sent = conn.send({"type": "req", "id": request_id, "method": "agent",
                              "params": params})
        try:
            async with asyncio.timeout(RUN_TIMEOUT_S):
                await run.done
        finally:
            del self.by_request[request_id]
        return run

    async def phase(self, jobs: list[tuple[str, str]], in_flight: int,
                    conns: list[LeanConnection], *, message: str | None = None,
                    replay: bool = False) -> tuple[dict[str, Any], list[Run]]:
        """Run ``jobs`` ((key, session) pairs) with ``in_flight`` workers over ``conns``.

        Returns the phase's figures and its runs (checked afterwards).
        """
        text = message or self.message
        runs: list[Run] = []
        queue: Iterator[tuple[str, str]] = iter(jobs)

        async def worker(conn: LeanConnection) -> None:
            """Runs one after another, until the shared iterator runs out."""
            for key, session in queue:
                runs.append(await self.one(conn, key, session, text, replay))

        workers = [worker(conns[n % len(conns)]) for n in range(in_flight)]
        frames = sum(conn.frames for conn in self.conns)
        gateway_before, own_before = cpu_times(self.gateway.pid), cpu_times()
        started = time.perf_counter()
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        gateway_after, own_after = cpu_times(self.gateway.pid), cpu_times()
        await asyncio.sleep(0.05)  # let stray late events arrive before the checks
        frames = sum(conn.frames for conn in self.conns) - frames
        count = len(jobs)
        gateway_user, gateway_sys = (b - a for a, b in zip(gateway_before, gateway_after,
                                                            strict=True))
        own_user, own_sys = (b - a for a, b in zip(own_before, own_after, strict=True))
        data: dict[str, Any] = {
            "rate": count / elapsed,
            "seconds": elapsed,
            "connections": len(conns),
            "inFlight": in_flight,
            "gatewayCpuUs": (gateway_user + gateway_sys) * 1e6 / count,
            "gatewaySysUs": gateway_sys * 1e6 / count,
            "clientCpuUs": (own_user + own_sys) * 1e6 / count,
            "clientSysUs": own_sys * 1e6 / count,
            "gatewayCpuShare": (gateway_user + gateway_sys) / elapsed,
            "framesPerRun": frames / count,
            "eventsPerRun": sum(len(r.seqs) for r in runs) / count,
            "final": summary([r.ms(r.final_at) for r in runs]),
        }
        if not replay:
            data["accepted"] = summary([r.ms(r.accepted) for r in runs if r.accepted])
            data["firstEvent"] = summary([r.ms(r.first_event) for r in runs if r.first_event])
            data["firstDelta"] = summary([r.ms(r.first_delta) for r in runs if r.first_delta])
        for run in runs:
            self.problems.extend(run_problems(run, self.finals.get(run.key)))
            if not replay and run.final is not None:
                self.finals.setdefault(run.key, run.final)
        return data, runs


def overlaps(log: list[tuple[str, str]], keys: set[str]) -> int:
    """Times a run of ``keys`` started while another of them had not ended."""
    running: str | None = None
    count = 0
    for run_id, phase in log:
        if run_id not in keys:
            continue
        if phase == "start":
            if running is not None:
                count += 1
            running = run_id
        elif run_id == running:
            running = None
    return count


async def agent_phases(gw: GatewayProcess, ns: Any) -> tuple[dict[str, Any], Bench]:
    """Warm-up, health, sequential, concurrent, same-session, replay, comparison phases."""
    bench = Bench(gw, ns.message)
    data: dict[str, Any] = {}
    await bench.connect(1)
    try:
        first = bench.conns[:1]
        progress(f"warm-up: {ns.warmup} runs and {ns.warmup} health calls, one connection")
        await bench.phase([(f"warm-{n}", f"warm-{n % 10}") for n in range(ns.warmup)],
                          10, first)
        for _ in range(ns.warmup):
            await bench.health(first[0])
        progress(f"health: {ns.health} round trips on that connection")
        data["health"] = summary([await bench.health(first[0]) for _ in range(ns.health)])
        progress(f"sequential: {ns.sequential} runs on one connection, one session")
        data["sequential"], _ = await bench.phase(
            [(f"seq-{n}", "bench-seq") for n in range(ns.sequential)], 1, first)

        await bench.connect(ns.connections)
        conns = bench.conns
        progress(f"concurrent: {ns.concurrent} runs, {ns.in_flight} in flight over "
                 f"{len(conns)} connections, a session each")
        concurrent_keys = [f"conc-{n}" for n in range(ns.concurrent)]
        data["concurrent"], _ = await bench.phase(
            [(key, key) for key in concurrent_keys], ns.in_flight, conns)

        progress(f"same session: {ns.same_session} runs, {ns.session_in_flight} in flight")
        bench.lifecycle_log = []
        same_keys = [f"same-{n}" for n in range(ns.same_session)]
        data["same_session"], _ = await bench.phase(
            [(key, "bench-same") for key in same_keys], ns.session_in_flight, conns)
        data["same_session"]["overlaps"] = overlaps(bench.lifecycle_log, set(same_keys))
        data["same_session"]["lifecycleSeen"] = sum(
            1 for run_id, _ in bench.lifecycle_log if run_id.startswith("same-"))
        bench.lifecycle_log = None

        replays = [(concurrent_keys[n % len(concurrent_keys)],) * 2 for n in range(ns.replays)]
        progress(f"replay: {ns.replays} requests for finished keys, {ns.in_flight} in flight")
        data["replay"], _ = await bench.phase(replays, ns.in_flight, conns, replay=True)
        sequential_replays = replays[: min(ns.replays, ns.sequential)]
        progress(f"replay: {len(sequential_replays)} sequential")
        data["replay_sequential"], _ = await bench.phase(sequential_replays, 1, conns[:1],
                                                         replay=True)

        if ns.compare_runs:
            progress(f"comparison: {ns.compare_runs} runs, {ns.in_flight} in flight, "
                     f"{ns.short_message!r} (short reply), {len(conns)} connections")
            data["short"], _ = await bench.phase(
                [(f"short-{n}", f"short-{n}") for n in range(ns.compare_runs)], ns.in_flight,
                conns, message=ns.short_message)
            for conn in conns[1:]:
                await conn.close()
            del bench.conns[1:]
            progress(f"comparison: {ns.compare_runs} runs, {ns.in_flight} in flight, "
                     "one connection")
            data["one_connection"], _ = await bench.phase(
                [(f"one-{n}", f"one-{n}") for n in range(ns.compare_runs)], ns.in_flight,
                bench.conns[:1])
    finally:
        await bench.close()
    return data, bench


# --------------------------------------------------------------------------- main


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--sequential", type=int, default=500, help="sequential runs")
    args.add_argument("--concurrent", type=int, default=2000, help="concurrent runs")
    args.add_argument("--in-flight", type=int, default=50, help="runs in flight at a time")
    args.add_argument("--connections", type=int, default=5,
                      help="connections the in-flight workers share (default 5)")
    args.add_argument("--same-session", type=int, default=200, help="runs on one session key")
    args.add_argument("--session-in-flight", type=int, default=20,
                      help="runs in flight at a time on that one session (default 20)")
    args.add_argument("--replays", type=int, default=500, help="requests for finished keys")
    args.add_argument("--health", type=int, default=500,
                      help="health round trips, for comparison (default 500)")
    args.add_argument("--warmup", type=int, default=100, help="unmeasured runs first")
    args.add_argument("--message", default="hello",
                      help="every run's message (default hello: a 40-word reply)")
    args.add_argument("--short-message", default="ok",
                      help="the comparison run's message (default ok: a 5-word echo)")
    args.add_argument("--compare-runs", type=int, default=1000,
                      help="runs per comparison phase (0 to skip)")
    ns = parse(args, quick={"sequential": 20, "concurrent": 100, "in_flight": 10,
                            "same_session": 20, "session_in_flight": 5, "replays": 20,
                            "health": 20, "warmup": 10, "compare_runs": 20})
    with gateway() as gw:
        progress(f"gateway pid {gw.pid} on {gw.url} (no config: offline/echo)")
        data, bench = asyncio.run(agent_phases(gw, ns))
        db_kb = sum(p.stat().st_size for p in gw.state_dir.glob("gateway.db*")) / 1024
        if not gw.alive():
            raise SystemExit("the gateway died during the run:\n" + gw.output[-2000:])

    seq, conc, same = data["sequential"], data["concurrent"], data["same_session"]
    rep, rep_seq, health = data["replay"], data["replay_sequential"], data["health"]
    in_flight = f"{ns.in_flight} in flight"
    conns = f"{ns.connections} connections"
    results = [
        Result("agent_seq_first_event_p50_ms",
               f"sequential: request -> first agent event (lifecycle start), p50 "
               f"(n={ns.sequential})", seq["firstEvent"]["p50"], "ms", FIRST_EVENT_TARGET_MS,
               seq),
        Result("agent_seq_first_event_p99_ms", "  p99", seq["firstEvent"]["p99"], "ms"),
        Result("agent_seq_accepted_p50_ms", "  request -> accepted answer, p50",
               seq["accepted"]["p50"], "ms"),
        Result("agent_seq_accepted_p99_ms", "    p99", seq["accepted"]["p99"], "ms"),
        Result("agent_seq_first_delta_p50_ms", "  request -> first assistant delta, p50",
               seq["firstDelta"]["p50"], "ms"),
        Result("agent_seq_first_delta_p99_ms", "    p99", seq["firstDelta"]["p99"], "ms"),
        Result("agent_seq_final_p50_ms", "  request -> final answer, p50", seq["final"]["p50"],
               "ms"),
        Result("agent_seq_final_p99_ms", "    p99", seq["final"]["p99"], "ms"),
        Result("agent_seq_rate", "  runs per second", seq["rate"], "/s"),
        Result("agent_seq_gateway_cpu_us", "  gateway CPU per run", seq["gatewayCpuUs"], "us"),
        Result("agent_seq_gateway_sys_us", "    of which system time", seq["gatewaySysUs"],
               "us"),
        Result("agent_seq_events", "  agent events per run", seq["eventsPerRun"], ""),
        Result("agent_health_p50_ms", f"for comparison: health round trip, same client, p50 "
               f"(n={ns.health})", health["p50"], "ms", detail=health),
        Result("agent_conc_rate",
               f"concurrent runs per second ({ns.concurrent}, {in_flight}, {conns}, "
               "a session each)", conc["rate"], "/s", detail=conc),
        Result("agent_conc_final_p50_ms", "  request -> final, p50", conc["final"]["p50"], "ms"),
        Result("agent_conc_final_p99_ms", "  request -> final, p99", conc["final"]["p99"], "ms"),
        Result("agent_conc_first_event_p50_ms", "  request -> first agent event, p50",
               conc["firstEvent"]["p50"], "ms"),
        Result("agent_conc_gateway_cpu_us", "  gateway CPU per run", conc["gatewayCpuUs"], "us"),
        Result("agent_conc_gateway_sys_us", "    of which system time", conc["gatewaySysUs"],
               "us"),
        Result("agent_conc_gateway_busy", "  gateway CPU busy (share of one core)",
               conc["gatewayCpuShare"] * 100, "%"),
        Result("agent_conc_gateway_ceiling", "  gateway-CPU ceiling (one core / CPU per run)",
               1e6 / conc["gatewayCpuUs"], "/s"),
        Result("agent_conc_client_cpu_us", "  benchmark clients' CPU per run",
               conc["clientCpuUs"], "us"),
        Result("agent_conc_client_sys_us", "    of which system time", conc["clientSysUs"],
               "us"),
        Result("agent_conc_frames", "  frames received per run (all connections)",
               conc["framesPerRun"], ""),
        Result("agent_same_rate", f"one session: runs per second ({ns.same_session}, "
               f"{ns.session_in_flight} in flight)", same["rate"], "/s", detail=same),
        Result("agent_same_final_p50_ms", "  request -> final, p50", same["final"]["p50"], "ms"),
        Result("agent_same_gateway_cpu_us", "  gateway CPU per run", same["gatewayCpuUs"], "us"),
        Result("agent_same_overlaps", "  runs of the session seen running at once",
               same["overlaps"], ""),
        Result("agent_replay_rate", f"replayed keys (from the store) per second "
               f"({ns.replays}, {in_flight})", rep["rate"], "/s", detail=rep),
        Result("agent_replay_p50_ms", "  latency p50", rep["final"]["p50"], "ms"),
        Result("agent_replay_gateway_cpu_us", "  gateway CPU per replay", rep["gatewayCpuUs"],
               "us"),
        Result("agent_replay_seq_p50_ms",
               f"replayed key, sequential, p50 (n={rep_seq['final']['n']})",
               rep_seq["final"]["p50"], "ms", detail=rep_seq),
    ]
    if "short" in data:
        short, one = data["short"], data["one_connection"]
        results += [
            Result("agent_short_rate", f"for comparison: {ns.compare_runs} runs, {in_flight}, "
                   f"{conns}, message {ns.short_message!r} "
                   f"({short['eventsPerRun']:.0f} events per run): per second",
                   short["rate"], "/s", detail=short),
            Result("agent_short_gateway_cpu_us", "  gateway CPU per run",
                   short["gatewayCpuUs"], "us"),
            Result("agent_one_conn_rate", f"for comparison: {ns.compare_runs} runs, "
                   f"{in_flight}, one connection: per second", one["rate"], "/s", detail=one),
            Result("agent_one_conn_gateway_cpu_us", "  gateway CPU per run",
                   one["gatewayCpuUs"], "us"),
            Result("agent_one_conn_client_cpu_us", "  benchmark client's CPU per run",
                   one["clientCpuUs"], "us"),
        ]
    checked = sum(d["final"]["n"] for d in data.values() if "final" in d) + ns.warmup
    results += [
        Result("agent_checked", "runs and replays checked (final ok, offline, deltas = text)",
               checked, "", detail={"problems": bench.problems[:20]}),
        Result("agent_problems", "  problems found", len(bench.problems), ""),
        Result("agent_db_kb", "  database on disk (gateway.db + WAL) at the end", db_kb, "KB"),
    ]
    report("agent", results, ns.json, notes=[
        "no config: agents.defaults.model = offline/echo (no network); message "
        f"{ns.message!r}",
        "agent events go to every operator.read client, so with N connections each "
        "event is written N times",
        "times are from just before a request is written to when the answer's or event's "
        "bytes were read; clients and gateway share the machine's cores",
    ], extra={"problems": bench.problems[:50], "foreignEvents": bench.foreign_events})
    if bench.problems:
        raise SystemExit(f"{len(bench.problems)} problem(s); first: {bench.problems[0]}")


if __name__ == "__main__":
    main()
