"""A connect storm of listed clients: what it costs the gateway (no fixed target).

``--clients`` clients in mode ``ui`` (listed in presence, so every connect changes
the presence list) connect at once, 50 handshakes in flight, as a reconnect
storm after a gateway restart would. Two variants:

* ``reading``: each client reads its events as they come;
* ``stalled``: no client reads anything until all have connected (their sockets
  fill up and the gateway has to buffer), then all drain.

Reported: the wall time of the storm, the gateway's CPU time and peak RSS
(VmHWM), and how many ``presence`` events the clients received in all. Without
coalescing, N connects cause about N²/2 presence events; the gateway merges
bursts of presence changes, so the count stays near N × (storm duration / window).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _common import (
    Gateway,
    Result,
    cpu_seconds,
    memory_mb,
    parser,
    progress,
    raise_nofile,
    report,
    ws_handshake,
)


async def _drain(ws: Any, counts: list[int]) -> None:
    """Read one connection until it closes, counting presence events."""
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in ws:
            if '"event":"presence"' in message:
                counts[0] += 1
    except ConnectionClosed:
        pass


async def storm(gateway: Gateway, clients: int, reading: bool) -> dict[str, float]:
    """Connect ``clients`` listed clients; return the figures of the storm."""
    counts = [0]
    gate = asyncio.Semaphore(50)
    sockets: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    cpu_before = cpu_seconds(gateway.pid)
    started = time.perf_counter()

    async def one() -> None:
        async with gate:
            ws = await ws_handshake(gateway.url, gateway.token, mode="ui", client_id="test")
        sockets.append(ws)
        if reading:
            readers.append(asyncio.create_task(_drain(ws, counts)))

    await asyncio.gather(*(one() for _ in range(clients)))
    connected = time.perf_counter() - started
    if not reading:
        readers = [asyncio.create_task(_drain(ws, counts)) for ws in sockets]
    await asyncio.sleep(2.0)  # let the last trailing broadcasts arrive
    figures = {
        "connect_s": connected,
        "cpu_s": cpu_seconds(gateway.pid) - cpu_before,
        "hwm_mb": memory_mb(gateway.pid).get("VmHWM", 0.0),
        "presence_events": float(counts[0]),
    }
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.gather(*readers, return_exceptions=True)
    return figures


def main() -> None:
    """Run both variants on fresh gateways and report."""
    args = parser(__doc__ or "").parse_args()
    clients = 400
    raise_nofile(clients * 2 + 100)
    results: list[Result] = []
    for variant in ("reading", "stalled"):
        with Gateway() as gateway:
            progress(f"{variant}: {clients} listed clients connecting")
            figures = asyncio.run(storm(gateway, clients, reading=variant == "reading"))
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
    report("presence_storm", results, args.json)


if __name__ == "__main__":
    main()
