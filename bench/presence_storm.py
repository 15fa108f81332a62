"""A connect storm of listed clients: what it costs the gateway (no fixed target).

``--clients`` clients in mode ``ui`` (listed in presence, so every connect changes
the presence list) connect at once, 50 handshakes in flight, as a reconnect
storm after a gateway restart would. Two variants:

* ``reading``: each client reads its events as they come;
* ``stalled``: no client reads anything until all have connected (their sockets
  fill up and the gateway has to buffer), then all drain.

After the storm the clients keep reading for ``--settle`` seconds, so the last
coalesced broadcasts are counted. Reported: the wall time of the storm, the
gateway's CPU time and peak RSS (VmHWM), and how many ``presence`` events the
clients received in all. Without coalescing, N connects cause about N²/2 presence
events; the gateway merges bursts of presence changes, so the count stays near
N × (storm duration / window).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.exceptions import ConnectionClosed

from _common import (
    Result,
    cpu_seconds,
    gateway,
    memory_mb,
    parse,
    parser,
    progress,
    raise_nofile,
    report,
    ws_handshake,
)
from harness import GatewayProcess


async def _drain(ws: Any, counts: list[int]) -> None:
    """Read one connection until it closes, counting presence events."""
    try:
        async for message in ws:
            if '"event":"presence"' in message:
                counts[0] += 1
    except ConnectionClosed:
        pass


async def storm(gw: GatewayProcess, clients: int, reading: bool,
                settle_s: float) -> dict[str, float]:
    """Connect ``clients`` listed clients; return the figures of the storm."""
    counts = [0]
    gate = asyncio.Semaphore(50)
    sockets: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    cpu_before = cpu_seconds(gw.pid)
    started = time.perf_counter()

    async def one() -> None:
        """Connect one listed client (and start its reader when reading)."""
        async with gate:
            ws = await ws_handshake(gw.url, gw.token, mode="ui", client_id="test")
        sockets.append(ws)
        if reading:
            readers.append(asyncio.create_task(_drain(ws, counts)))

    await asyncio.gather(*(one() for _ in range(clients)))
    connected = time.perf_counter() - started
    if not reading:
        readers = [asyncio.create_task(_drain(ws, counts)) for ws in sockets]
    await asyncio.sleep(settle_s)  # a measurement window: trailing broadcasts still count
    figures = {
        "connect_s": connected,
        "cpu_s": cpu_seconds(gw.pid) - cpu_before,
        "hwm_mb": memory_mb(gw.pid).get("VmHWM", 0.0),
        "presence_events": float(counts[0]),
    }
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.gather(*readers, return_exceptions=True)
    return figures


def main() -> None:
    """Run both variants on fresh gateways and report."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--clients", type=int, default=400, help="listed clients (default 400)")
    args.add_argument("--settle", type=float, default=2.0,
                      help="seconds the clients keep reading after the storm (default 2)")
    ns = parse(args, quick={"clients": 50, "settle": 0.5})
    clients = ns.clients
    raise_nofile(clients * 2 + 100)
    results: list[Result] = []
    for variant in ("reading", "stalled"):
        with gateway() as gw:
            progress(f"{variant}: {clients} listed clients connecting")
            figures = asyncio.run(storm(gw, clients, variant == "reading", ns.settle))
        label = f"{clients} ui clients, {variant}:"
        results += [
            Result(f"{variant}_connect_s", f"{label} connect storm", figures["connect_s"], "s"),
            Result(f"{variant}_cpu_s", "  gateway CPU during the storm", figures["cpu_s"], "s"),
            Result(f"{variant}_hwm_mb", "  gateway peak RSS (VmHWM)", figures["hwm_mb"], "MB"),
            Result(f"{variant}_presence_events", "  presence events received, all clients",
                   figures["presence_events"], ""),
            Result(f"{variant}_quadratic", "  without coalescing it would be about",
                   clients * (clients + 1) / 2, ""),
        ]
    report("presence_storm", results, ns.json)


if __name__ == "__main__":
    main()
