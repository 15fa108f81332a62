"""A ``presence`` broadcast reaching 1,000 clients (target <= 50 ms).

``--clients`` connections (client mode ``cli``, so they are not listed in presence
and connecting broadcasts nothing) are held by one asyncio process, each with a
reader task that records :func:`time.perf_counter` when it sees a ``presence``
event. One more client (mode ``ui``, connected first) sends ``system-event`` with
``{"text": "bench", "instanceId": "bench-1"}``, which upserts a presence entry and
broadcasts ``presence`` to every session. A round is timed from just before that
``send`` until the last of the clients has recorded the event; the median and
worst of ``--rounds`` rounds (after one unmeasured warm-up round) are reported.

All receivers live in the benchmark process, which shares the 2 cores with the
gateway, so the figure includes the client side's work of receiving and parsing
1,000 frames and waking 1,000 reader tasks; the gateway's own CPU time per
broadcast (from ``/proc/PID/stat``) and the time until the sender got its
``res`` (sent by the gateway after it has written the event to every socket)
are reported alongside. To separate the two sides, the rounds are repeated with
lean receivers (``--receivers``): websockets' sans-I/O protocol on plain asyncio
transports, with no task per connection and no JSON decoding (each text frame is
checked for the ``presence`` marker).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from _common import (
    ClientPool,
    LeanConnection,
    Result,
    cpu_seconds,
    fd_limit,
    gateway,
    parse,
    parser,
    progress,
    raise_nofile,
    report,
    rss_mb,
    summary,
    ws_handshake,
)
from harness import GatewayProcess

TARGET_MS = 50.0
MARKER = '"event":"presence"'
MARKER_BYTES = MARKER.encode()


class Recorder:
    """Per-round arrival times of the ``presence`` event at each client."""

    def __init__(self, clients: int) -> None:
        """No arrivals yet, for ``clients`` receivers."""
        self.clients = clients
        self.arrivals: list[float] = [0.0] * clients
        self.counts: list[int] = [0] * clients
        self.seen = 0
        self.done = asyncio.Event()

    def reset(self) -> None:
        """Start a new round."""
        self.arrivals = [0.0] * self.clients
        self.counts = [0] * self.clients
        self.seen = 0
        self.done = asyncio.Event()

    def on_message(self, index: int, message: str | bytes) -> None:
        """Reader callback: note the first ``presence`` event of the round per client."""
        if isinstance(message, str) and MARKER in message:
            self.hit(index)

    def hit(self, index: int) -> None:
        """Client ``index`` has just received a ``presence`` event."""
        now = time.perf_counter()
        self.counts[index] += 1
        if self.counts[index] == 1:
            self.arrivals[index] = now
            self.seen += 1
            if self.seen == self.clients:
                self.done.set()


async def open_lean(url: str, token: str, count: int, recorder: Recorder,
                    concurrency: int = 50) -> list[LeanConnection]:
    """Open ``count`` lean receivers that note each ``presence`` event in ``recorder``."""
    gate = asyncio.Semaphore(concurrency)

    def on_frame(conn: LeanConnection, received_at: float, data: bytes) -> None:
        """Note a ``presence`` event (the frame is not decoded: the marker is enough)."""
        if MARKER_BYTES in data:
            recorder.hit(conn.index)

    async def one(index: int) -> LeanConnection:
        """Connect receiver ``index``."""
        async with gate:
            return await LeanConnection.open(url, token, on_frame, index=index)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def read_until_res(ws: Any, request_id: str) -> float:
    """Read the sender's connection until the ``res`` for ``request_id``; return its time."""
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("type") == "res" and frame.get("id") == request_id:
            if frame.get("ok") is not True:
                raise RuntimeError(f"system-event failed: {frame!r:.300}")
            return time.perf_counter()


async def broadcast_rounds(gw: GatewayProcess, sender: Any, recorder: Recorder, rounds: int,
                           pause: float) -> dict[str, Any]:
    """One warm-up and ``rounds`` measured ``system-event`` broadcasts; return the figures."""
    out: dict[str, Any] = {"rounds": []}
    cpu_start = 0.0
    for round_no in range(rounds + 1):
        if round_no == 1:
            cpu_start = cpu_seconds(gw.pid)
        recorder.reset()
        request_id = f"bench-{round_no}"
        frame = json.dumps({"type": "req", "id": request_id, "method": "system-event",
                            "params": {"text": "bench", "instanceId": "bench-1"}})
        started = time.perf_counter()
        await sender.send(frame)
        res_task = asyncio.get_running_loop().create_task(read_until_res(sender, request_id))
        await asyncio.wait_for(recorder.done.wait(), timeout=30)
        res_at = await asyncio.wait_for(res_task, timeout=30)
        await asyncio.sleep(pause)  # late duplicates would show up in the counts
        arrivals = [(t - started) * 1000 for t in recorder.arrivals]
        record = {
            "lastMs": max(arrivals),
            "firstMs": min(arrivals),
            "medianMs": summary(arrivals)["median"],
            "senderResMs": (res_at - started) * 1000,
            "duplicates": sum(c - 1 for c in recorder.counts if c > 1),
        }
        if round_no == 0:
            out["warmup"] = record
            continue
        out["rounds"].append(record)
        progress(f"  round {round_no}: last client after {record['lastMs']:.1f} ms "
                 f"(first {record['firstMs']:.1f}, sender res {record['senderResMs']:.1f})")
    out["gatewayCpuMsPerRound"] = (cpu_seconds(gw.pid) - cpu_start) * 1000 / rounds
    return out


async def run(kind: str, clients: int, rounds: int, pause: float) -> dict[str, Any]:
    """Hold ``clients`` receivers of ``kind`` (websockets/lean) and time the broadcasts."""
    recorder = Recorder(clients)
    with gateway() as gw:
        limit = fd_limit(gw.pid)
        if limit is not None and limit < clients + 64:
            raise SystemExit(f"gateway fd limit {limit} is too low for {clients} clients")
        sender = await ws_handshake(gw.url, gw.token, mode="ui", client_id="test",
                                    instance_id="bench-ui-1")
        started = time.perf_counter()
        pool: ClientPool | None = None
        lean: list[LeanConnection] = []
        if kind == "websockets":
            pool = ClientPool(gw.url, gw.token, clients, on_message=recorder.on_message)
            await pool.open()
        else:
            lean = await open_lean(gw.url, gw.token, clients, recorder)
        progress(f"{kind} receivers: {clients} connected to gateway pid {gw.pid} in "
                 f"{time.perf_counter() - started:.2f} s")
        await asyncio.sleep(pause)
        rss_held = rss_mb(gw.pid)
        out = await broadcast_rounds(gw, sender, recorder, rounds, pause)
        out["gatewayRssHeldMB"] = rss_held
        if pool is not None:
            out["readerErrors"] = pool.errors[:5]
            await pool.close()
        await asyncio.gather(*(conn.close() for conn in lean))
        await sender.close()
        out["alive"] = gw.alive()
    return out


def rows(kind: str, data: dict[str, Any], clients: int, target: float | None) -> list[Result]:
    """Result rows for one receiver kind."""
    rounds = data["rounds"]
    last = summary([r["lastMs"] for r in rounds])
    half = summary([r["medianMs"] for r in rounds])
    first = summary([r["firstMs"] for r in rounds])
    res = summary([r["senderResMs"] for r in rounds])
    prefix = "presence" if kind == "websockets" else "presence_lean"
    title = ("websockets asyncio receivers" if kind == "websockets"
             else "lean receivers (websockets sans-I/O, no task each)")
    return [
        Result(f"{prefix}_last_ms", f"{title}: presence at all {clients}, median of "
               f"{len(rounds)}", last["median"], "ms", target, last),
        Result(f"{prefix}_last_max_ms", "  same, worst round", last["max"], "ms"),
        Result(f"{prefix}_first_ms", "  first client received, median", first["median"], "ms"),
        Result(f"{prefix}_half_ms", "  half the clients received, median", half["median"],
               "ms"),
        Result(f"{prefix}_sender_res_ms", "  sender's res received, median", res["median"],
               "ms"),
        Result(f"{prefix}_gateway_cpu_ms", "  gateway CPU per broadcast (mean)",
               data["gatewayCpuMsPerRound"], "ms"),
        Result(f"{prefix}_duplicates", "  duplicate presence events seen",
               float(sum(r["duplicates"] for r in rounds)), ""),
    ]


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--clients", type=int, default=1000, help="receivers (default 1000)")
    args.add_argument("--rounds", type=int, default=10, help="measured broadcasts (default 10)")
    args.add_argument("--pause", type=float, default=0.3, help="seconds between rounds")
    args.add_argument("--receivers", choices=["websockets", "lean", "both"], default="both",
                      help="receiver implementation (default both; the target uses websockets)")
    ns = parse(args, quick={"clients": 50, "rounds": 2, "pause": 0.05})
    raise_nofile()
    kinds = ["websockets", "lean"] if ns.receivers == "both" else [ns.receivers]
    results: list[Result] = []
    raw_data: dict[str, Any] = {}
    notes = [
        "all receivers run in the benchmark process: the time includes client-side receiving "
        "and parsing of every frame, on the same 2 cores as the gateway",
    ]
    for kind in kinds:
        data = asyncio.run(run(kind, ns.clients, ns.rounds, ns.pause))
        raw_data[kind] = data
        results += rows(kind, data, ns.clients, TARGET_MS if kind == "websockets" else None)
        notes.append(f"{kind}: gateway RSS with {ns.clients} receivers + sender "
                     f"{data['gatewayRssHeldMB']:.1f} MB")
        if data.get("readerErrors"):
            notes.append(f"{kind}: reader errors: {data['readerErrors']}")
        if not data["alive"]:
            notes.append(f"{kind}: the gateway died during the run")
    report("presence_broadcast", results, ns.json, notes=notes, extra={"raw": raw_data})


if __name__ == "__main__":
    main()
