"""``health`` round trip on an open connection (targets: p50 <= 0.3 ms, p99 <= 2 ms,
p50 <= 1.5 x a bare websockets echo's p50 on the same client).

One connection (client mode ``cli``) sends ``--requests`` sequential ``health``
requests; each round trip is timed with :func:`time.perf_counter` from just before
``send`` to the return of the ``recv`` that delivered the response (the response
is parsed and checked afterwards, outside the timed window). The lean loop uses
``websockets.asyncio.client`` with ``compression=None``; for comparison the same
loop runs with the project's blocking client (:class:`openclaw.client.sync.GatewayClient`,
whose ``call`` also encodes and decodes JSON inside the timed window). The
gateway's CPU time per request (from ``/proc/PID/stat``) is reported as well; it
does not depend on the client.

Bare echo: a websockets asyncio server (``compression=None``) in a process of its
own that sends every message back, started the way the gateway is (same
interpreter, bytecode cache on). The same client sends it the same ``health``
frame and times the echo the same way. The echo and ``health`` loops run in
alternating blocks of ``--block`` requests on two open connections, so drifting
load on the shared machine affects both alike; the ratio of the two p50s is held
to 1.5.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    Result,
    bytecode_vars,
    cpu_seconds,
    gateway,
    parse,
    parser,
    progress,
    report,
    summary,
    ws_handshake,
)
from harness import GatewayProcess, clean_env

P50_TARGET_MS = 0.3
P99_TARGET_MS = 2.0
ECHO_RATIO_TARGET = 1.5

#: A bare websockets echo server; prints its port, serves until stdin closes.
ECHO_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=None,
                     ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def start_echo_server(home: Path) -> tuple[subprocess.Popen[str], int]:
    """The bare echo server in a child process; return it and its port."""
    env = clean_env(home, **bytecode_vars())
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        proc.kill()
        raise RuntimeError("echo server did not start")
    return proc, int(line)


def health_frame(request_id: str) -> str:
    """One ``health`` request frame (the same bytes go to the echo server)."""
    return f'{{"type":"req","id":"{request_id}","method":"health","params":{{}}}}'


async def timed_health(ws: Any, request_id: str) -> float:
    """One ``health`` round trip on the gateway; return seconds (parse and check untimed)."""
    started = time.perf_counter()
    await ws.send(health_frame(request_id))
    reply = await ws.recv()
    elapsed = time.perf_counter() - started
    parsed = json.loads(reply)
    while parsed.get("type") != "res":  # a tick or other event slipped in
        reply = await ws.recv()
        elapsed = time.perf_counter() - started
        parsed = json.loads(reply)
    if parsed.get("id") != request_id or parsed.get("ok") is not True:
        raise RuntimeError(f"unexpected reply: {reply[:300]!r}")
    return elapsed


async def timed_echo(ws: Any, request_id: str) -> float:
    """One round trip on the bare echo server; return seconds (check untimed)."""
    frame = health_frame(request_id)
    started = time.perf_counter()
    await ws.send(frame)
    reply = await ws.recv()
    elapsed = time.perf_counter() - started
    if reply != frame:
        raise RuntimeError(f"echo mismatch: {reply[:300]!r}")
    return elapsed


async def paired_loop(gw: GatewayProcess, echo_port: int, requests: int, warmup: int,
                      block: int) -> tuple[list[float], list[float]]:
    """``health`` on the gateway and the same frame on the echo server, in alternating
    blocks on two open connections; return (health ms, echo ms)."""
    from websockets.asyncio.client import connect

    gw_ws = await ws_handshake(gw.url, gw.token, mode="cli")
    echo_ws = await connect(f"ws://127.0.0.1:{echo_port}", compression=None, max_size=None,
                            ping_interval=None)
    health_ms: list[float] = []
    echo_ms: list[float] = []
    try:
        for index in range(warmup):
            await timed_health(gw_ws, f"pw-{index}")
            await timed_echo(echo_ws, f"pw-{index}")
        done = 0
        while done < requests:
            count = min(block, requests - done)
            for index in range(done, done + count):
                echo_ms.append(await timed_echo(echo_ws, f"pe-{index}") * 1000)
            for index in range(done, done + count):
                health_ms.append(await timed_health(gw_ws, f"ph-{index}") * 1000)
            done += count
    finally:
        await gw_ws.close()
        await echo_ws.close()
    return health_ms, echo_ms


async def lean_loop(gw: GatewayProcess, requests: int, warmup: int) -> tuple[list[float], float]:
    """Sequential ``health`` round trips over websockets; return (ms samples, gateway CPU s)."""
    ws = await ws_handshake(gw.url, gw.token, mode="cli")
    samples: list[float] = []
    cpu_used = 0.0
    try:
        for phase, count in (("warmup", warmup), ("measure", requests)):
            cpu_before = cpu_seconds(gw.pid)
            for index in range(count):
                elapsed = await timed_health(ws, f"{phase}-{index}")
                if phase == "measure":
                    samples.append(elapsed * 1000)
            if phase == "measure":
                cpu_used = cpu_seconds(gw.pid) - cpu_before
    finally:
        await ws.close()
    return samples, cpu_used


def sync_client_loop(gw: GatewayProcess, requests: int, warmup: int) -> list[float]:
    """Sequential ``health`` calls with the project's blocking client; return ms samples."""
    from openclaw.client.sync import GatewayClient

    samples: list[float] = []
    with GatewayClient(gw.url, token=gw.token) as client:
        for index in range(warmup + requests):
            started = time.perf_counter()
            payload = client.call("health", {})
            elapsed = time.perf_counter() - started
            if payload.get("ok") is not True:
                raise RuntimeError(f"unexpected health payload: {payload!r:.300}")
            if index >= warmup:
                samples.append(elapsed * 1000)
    return samples


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--requests", type=int, default=5000, help="measured requests")
    args.add_argument("--warmup", type=int, default=500, help="unmeasured requests first")
    args.add_argument("--block", type=int, default=500,
                      help="requests per block when alternating with the echo (default 500)")
    ns = parse(args, quick={"requests": 200, "warmup": 20, "block": 50})
    with gateway() as gw:
        progress(f"gateway pid {gw.pid}; {ns.requests} health requests per loop")
        lean_samples, cpu_s = asyncio.run(lean_loop(gw, ns.requests, ns.warmup))
        sync_samples = sync_client_loop(gw, ns.requests, ns.warmup)
        progress(f"bare websockets echo beside health, blocks of {ns.block}")
        echo_proc, echo_port = start_echo_server(gw.home)
        try:
            paired_health, paired_echo = asyncio.run(
                paired_loop(gw, echo_port, ns.requests, ns.warmup, ns.block))
        finally:
            if echo_proc.stdin is not None:
                echo_proc.stdin.close()
            try:
                echo_proc.wait(5)
            except subprocess.TimeoutExpired:
                echo_proc.kill()
                echo_proc.wait()
    lean = summary(lean_samples)
    sync = summary(sync_samples)
    ph = summary(paired_health)
    pe = summary(paired_echo)
    results = [
        Result("health_rtt_p50_ms", f"health round trip p50 (websockets asyncio, n={ns.requests})",
               lean["p50"], "ms", P50_TARGET_MS, lean),
        Result("health_rtt_p99_ms", "health round trip p99", lean["p99"], "ms", P99_TARGET_MS),
        Result("health_rtt_max_ms", "  max", lean["max"], "ms"),
        Result("health_rps", "  sequential requests per second",
               1000 / lean["mean"], "/s"),
        Result("health_gateway_cpu_us", "  gateway CPU per request",
               cpu_s * 1e6 / ns.requests, "us"),
        Result("health_sync_p50_ms", "blocking GatewayClient.call round trip p50",
               sync["p50"], "ms", detail=sync),
        Result("health_sync_p99_ms", "  p99", sync["p99"], "ms"),
        Result("health_vs_echo_ratio", "health p50 / bare websockets echo p50 (same client, "
               "alternating blocks)", ph["p50"] / pe["p50"], "x", ECHO_RATIO_TARGET,
               {"health": ph, "echo": pe}),
        Result("paired_health_p50_ms", "  health p50 in those blocks", ph["p50"], "ms",
               detail=ph),
        Result("echo_p50_ms", "  bare websockets echo p50 (same frame, same client)",
               pe["p50"], "ms", detail=pe),
        Result("echo_p99_ms", "    p99", pe["p99"], "ms"),
    ]
    report("health_rtt", results, ns.json, notes=[
        "sequential requests on one open connection; client and gateway share the 2 cores",
    ])


if __name__ == "__main__":
    main()
