"""``health`` round trip on an open connection (targets: p50 <= 0.3 ms, p99 <= 2 ms).

One connection (client mode ``cli``) sends ``--requests`` sequential ``health``
requests; each round trip is timed with :func:`time.perf_counter` from just before
``send`` to the return of the ``recv`` that delivered the response (the response
is parsed and checked afterwards, outside the timed window). The lean loop uses
``websockets.asyncio.client`` with ``compression=None``; for comparison the same
loop runs with the project's blocking client (:class:`openclaw.client.sync.GatewayClient`,
whose ``call`` also encodes and decodes JSON inside the timed window). The
gateway's CPU time per request (from ``/proc/PID/stat``) is reported as well; it
does not depend on the client.
"""

from __future__ import annotations

import asyncio
import json
import time

from _common import (
    Result,
    cpu_seconds,
    gateway,
    parse,
    parser,
    progress,
    report,
    summary,
    ws_handshake,
)
from harness import GatewayProcess

P50_TARGET_MS = 0.3
P99_TARGET_MS = 2.0


async def lean_loop(gw: GatewayProcess, requests: int, warmup: int) -> tuple[list[float], float]:
    """Sequential ``health`` round trips over websockets; return (ms samples, gateway CPU s)."""
    ws = await ws_handshake(gw.url, gw.token, mode="cli")
    samples: list[float] = []
    cpu_used = 0.0
    try:
        for phase, count in (("warmup", warmup), ("measure", requests)):
            cpu_before = cpu_seconds(gw.pid)
            for index in range(count):
                request_id = f"{phase}-{index}"
                frame = f'{{"type":"req","id":"{request_id}","method":"health","params":{{}}}}'
                started = time.perf_counter()
                await ws.send(frame)
                reply = await ws.recv()
                elapsed = time.perf_counter() - started
                parsed = json.loads(reply)
                while parsed.get("type") != "res":  # a tick or other event slipped in
                    reply = await ws.recv()
                    elapsed = time.perf_counter() - started
                    parsed = json.loads(reply)
                if parsed.get("id") != request_id or parsed.get("ok") is not True:
                    raise RuntimeError(f"unexpected reply: {reply[:300]!r}")
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
    ns = parse(args, quick={"requests": 200, "warmup": 20})
    with gateway() as gw:
        progress(f"gateway pid {gw.pid}; {ns.requests} health requests per loop")
        lean_samples, cpu_s = asyncio.run(lean_loop(gw, ns.requests, ns.warmup))
        sync_samples = sync_client_loop(gw, ns.requests, ns.warmup)
    lean = summary(lean_samples)
    sync = summary(sync_samples)
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
    ]
    report("health_rtt", results, ns.json, notes=[
        "sequential requests on one open connection; client and gateway share the 2 cores",
    ])


if __name__ == "__main__":
    main()
