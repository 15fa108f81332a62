"""1,000 concurrent authenticated clients held (target: gateway RSS <= 120 MB).

One asyncio process opens ``--clients`` WebSocket connections to one gateway
(``websockets.asyncio.client.connect``, ``compression=None``) and completes the
``connect`` handshake on each with client mode ``cli`` (not listed in presence,
so connecting broadcasts nothing). Each connection has a reader task. After a
short settle, the gateway's VmRSS is read from ``/proc/PID/status`` along with its
open descriptors and CPU time, and the gateway's own ``status`` method is asked
how many connections it holds. Then all clients close, and the round is repeated
(``--rounds``) to see whether memory or descriptors are left behind.

RLIMIT_NOFILE's soft limit is raised to the hard limit in this process before the
gateway is spawned, so the gateway inherits it; the gateway's limit is checked
through ``/proc/PID/limits``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from _common import (
    ClientPool,
    Result,
    cpu_seconds,
    fd_limit,
    gateway,
    memory_mb,
    open_fds,
    parse,
    parser,
    progress,
    raise_nofile,
    report,
    rss_mb,
    ws_call,
    ws_handshake,
)
from harness import GatewayProcess

RSS_TARGET_MB = 120.0


async def gateway_connections(gw: GatewayProcess) -> int:
    """Ask the gateway (over a fresh ``cli`` connection) how many connections it holds.

    The asking connection itself is counted by the gateway, so one is subtracted.
    """
    ws = await ws_handshake(gw.url, gw.token, mode="cli")
    try:
        reply = await ws_call(ws, "status")
    finally:
        await ws.close()
    return int(reply["payload"]["gateway"]["connections"]) - 1


async def settle(gw: GatewayProcess, seconds: float) -> dict[str, float]:
    """Wait ``seconds``, then return the gateway's memory, fds and CPU seconds."""
    await asyncio.sleep(seconds)
    figures: dict[str, float] = dict(memory_mb(gw.pid))
    figures["fds"] = open_fds(gw.pid)
    figures["cpuSeconds"] = cpu_seconds(gw.pid)
    return figures


async def run(clients: int, rounds: int, concurrency: int, settle_s: float) -> dict[str, Any]:
    """Start a gateway and hold ``clients`` connections ``rounds`` times; return figures."""
    out: dict[str, Any] = {"rounds": []}
    with gateway() as gw:
        limit = fd_limit(gw.pid)
        out["gatewayFdLimit"] = limit
        if limit is not None and limit < clients + 64:
            raise SystemExit(f"gateway fd limit {limit} is too low for {clients} clients")
        out["idle"] = await settle(gw, settle_s)
        progress(f"gateway pid {gw.pid}, fd limit {limit}, idle RSS "
                 f"{out['idle']['VmRSS']:.1f} MB")
        for round_no in range(1, rounds + 1):
            pool = ClientPool(gw.url, gw.token, clients, concurrency=concurrency)
            cpu_before = cpu_seconds(gw.pid)
            connect_s = await pool.open()
            cpu_connect = cpu_seconds(gw.pid) - cpu_before
            held = await settle(gw, settle_s)
            counted = await gateway_connections(gw)
            client_rss = rss_mb(os.getpid())
            progress(f"round {round_no}: {len(pool.connections)} clients in {connect_s:.2f} s, "
                     f"gateway RSS {held['VmRSS']:.1f} MB, fds {held['fds']:.0f}, "
                     f"gateway counts {counted}")
            close_s = await pool.close()
            after = await settle(gw, settle_s)
            remaining = await gateway_connections(gw)
            progress(f"round {round_no}: closed in {close_s:.2f} s, RSS after "
                     f"{after['VmRSS']:.1f} MB, fds {after['fds']:.0f}, gateway counts "
                     f"{remaining}")
            out["rounds"].append({
                "connectSeconds": connect_s,
                "gatewayCpuSecondsConnecting": cpu_connect,
                "held": held,
                "gatewayConnections": counted,
                "benchProcessRssMB": client_rss,
                "closeSeconds": close_s,
                "afterClose": after,
                "gatewayConnectionsAfterClose": remaining,
                "readerErrors": pool.errors[:5],
            })
        out["alive"] = gw.alive()
        out["stopStatus"] = gw.stop()
        out["gatewayOutputTail"] = gw.output.splitlines()[-10:]
    return out


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--clients", type=int, default=1000, help="connections (default 1000)")
    args.add_argument("--rounds", type=int, default=2, help="connect/close rounds (default 2)")
    args.add_argument("--concurrency", type=int, default=50,
                      help="handshakes in flight at once (default 50)")
    args.add_argument("--settle", type=float, default=1.5, help="seconds before each reading")
    ns = parse(args, quick={"clients": 50, "rounds": 1, "settle": 0.2})
    nofile = raise_nofile()
    progress(f"RLIMIT_NOFILE soft limit {nofile}")
    started = time.perf_counter()
    data = asyncio.run(run(ns.clients, ns.rounds, ns.concurrency, ns.settle))
    first, last = data["rounds"][0], data["rounds"][-1]
    idle = data["idle"]
    per_conn_kb = (first["held"]["VmRSS"] - idle["VmRSS"]) * 1024 / ns.clients
    n = ns.clients
    results = [
        Result("clients_rss_mb", f"gateway VmRSS with {n} clients held", first["held"]["VmRSS"],
               "MB", RSS_TARGET_MB, first["held"]),
        Result("clients_idle_rss_mb", "  gateway VmRSS before (idle)", idle["VmRSS"], "MB"),
        Result("clients_per_conn_kb", "  RSS growth per connection", per_conn_kb, "KB"),
        Result("clients_connect_s", f"open + handshake {n} clients ({ns.concurrency} in flight)",
               first["connectSeconds"], "s"),
        Result("clients_handshakes_per_s", "  handshakes per second",
               n / first["connectSeconds"], "/s"),
        Result("clients_gateway_cpu_ms_per_conn", "  gateway CPU per connection+handshake",
               first["gatewayCpuSecondsConnecting"] * 1000 / n, "ms"),
        Result("clients_counted", "connections the gateway reports (status)",
               first["gatewayConnections"], ""),
        Result("clients_fds_held", "  gateway open fds while held", first["held"]["fds"], ""),
        Result("clients_rss_after_close_mb", "gateway VmRSS after all closed",
               first["afterClose"]["VmRSS"], "MB"),
        Result("clients_fds_after_close", "  gateway open fds after all closed",
               first["afterClose"]["fds"], ""),
        Result("clients_rss_last_round_mb", f"gateway VmRSS with {n} held, round {ns.rounds}",
               last["held"]["VmRSS"], "MB"),
        Result("clients_rss_last_after_close_mb", f"  after close, round {ns.rounds}",
               last["afterClose"]["VmRSS"], "MB"),
        Result("clients_bench_rss_mb", "benchmark (client) process VmRSS, 1st round",
               first["benchProcessRssMB"], "MB"),
    ]
    notes = [
        f"gateway RLIMIT_NOFILE {data['gatewayFdLimit']}; MB = MiB from /proc",
        f"total run {time.perf_counter() - started:.1f} s",
    ]
    if any(r["readerErrors"] for r in data["rounds"]):
        notes.append(f"reader errors: {[r['readerErrors'] for r in data['rounds']]}")
    if not data["alive"]:
        notes.append("the gateway died during the run")
    report("many_clients", results, ns.json, notes=notes, extra={"raw": data})


if __name__ == "__main__":
    main()
