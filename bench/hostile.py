"""Hostile clients: a well-behaved client's ``health`` round trips at rest and under
each attack (target: p99 under attack <= max(10 x the at-rest p99, 40 ms)).

The well-behaved client (the probe) runs in a child process of its own (this script
with ``--probe``), so the attackers in this process do not slow it down through the
GIL: it connects with the test suite's ``RawClient``, sends ``health`` one after
another and prints its round trips (``time.perf_counter``, ms) when told to stop.
During each attack a fresh connection is also timed (connect, ``connect`` handshake,
one ``health``). One gateway (the real defaults: handshake timeout 15 s, request-head
timeout 10 s, loopback auth limit 20 failures per 10 s) serves every attack, one after
another:

* ``pipeline``: one connection sends ``--pipeline`` ``health`` requests without
  waiting, a second thread reads the answers;
* ``unauthenticated``: ``--sockets`` upgraded sockets that never send ``connect``,
  held until the gateway closes them (the handshake timeout);
* ``auth-flood``: ``--guesses`` connects with wrong tokens from loopback, one after
  another (the owner's new connection uses the right one);
* ``big-frame``: three connections each send one frame of ``--keys`` small keys
  (12 MB for a million, under ``maxPayload``); gateway RSS before, at its peak and 3 s
  after;
* ``deep-nesting``: ten 100,000-deep arrays, five before ``connect`` (30,000 deep, under
  the 64 KiB pre-connect limit) and five after;
* ``never-read``: four connections with a 4 KiB receive buffer each send 2,000
  ``status`` requests (~10 KB answers) and never read; gateway RSS growth;
* ``slow-loris``: ``--lorises`` sockets send a request head a little at a time and
  never finish it, until the gateway cuts them.

Each row is the probe's p50/p99/max over the attack, the new connection's time and
what happened to the attacker. The gateway's log is read at the end to count the
refusal lines each attack left (one per burst; the counts of the bursts are written
when the gateway stops).
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    Result,
    bytecode_vars,
    gateway,
    parse,
    parser,
    progress,
    raise_nofile,
    report,
    rss_mb,
    summary,
    table,
)
from harness import (
    GatewayProcess,
    RawClient,
    authenticated_raw,
    clean_env,
    connect_frame,
    read_until_closed,
)
from openclaw.client.wsmini import MiniWebSocket

TOKEN = "bench-hostile-" + "7" * 50
UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


# --------------------------------------------------------------------------- the probe


def probe_main(url: str, token: str) -> None:
    """Child process: ``health`` round trips until a line arrives on stdin, then print them."""
    deadline = time.monotonic() + 30
    while True:  # an older gateway refuses even the right token during a lockout
        client = RawClient(url)
        try:
            client.handshake(token, mode="cli", client_id="cli")
            break
        except AssertionError:
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    samples: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        reply = client.request("health", timeout=60)
        samples.append((time.perf_counter() - started) * 1000)
        if reply.get("ok") is not True:
            raise SystemExit(f"health failed: {reply}")
    client.close()
    print(json.dumps(samples), flush=True)


class Probe:
    """The probe child process: started before an attack, stopped after it."""

    def __init__(self, gw: GatewayProcess) -> None:
        env = clean_env(gw.home, **bytecode_vars())
        self.proc = subprocess.Popen([sys.executable, __file__, "--probe", gw.url, TOKEN],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the probe did not start")

    def stop(self) -> list[float]:
        """Stop the probe; return its round trips (ms)."""
        out, _ = self.proc.communicate("stop\n", timeout=120)
        return [float(x) for x in json.loads(out.strip().splitlines()[-1])]


def new_connection_ms(url: str) -> float:
    """Connect, hand-shake and answer one ``health``; return milliseconds (NaN when the
    handshake was refused)."""
    started = time.perf_counter()
    client = RawClient(url)
    try:
        client.handshake(TOKEN, mode="cli", client_id="cli")
    except AssertionError:
        client.close()
        return float("nan")
    assert client.request("health")["ok"] is True
    elapsed = (time.perf_counter() - started) * 1000
    client.close()
    return elapsed


def wait_closed(sockets: list[socket.socket], timeout: float) -> float:
    """Read every socket until the gateway closes it; return when the last closed (s)."""
    started = time.monotonic()
    _, closed_at = read_until_closed(sockets, started + timeout)
    for sock in sockets:
        sock.close()
    if len(closed_at) < len(sockets):
        raise RuntimeError(f"{len(sockets) - len(closed_at)} sockets still open after "
                           f"{timeout:.0f} s")
    return max(closed_at.values()) - started


# --------------------------------------------------------------------------- the attacks


def fate(client: RawClient, timeout: float = 60.0) -> str:
    """What the gateway did with the frame just sent: its close code and reason, or the
    answer it sent instead (an older gateway answers some attacks)."""
    from websockets.exceptions import ConnectionClosed

    try:
        reply = client.recv(timeout)
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code} '{exc.rcvd.reason}'" if exc.rcvd else "closed"
    except TimeoutError:
        return "no answer"
    client.close()
    error = reply.get("error") or {}
    return f"answered ok={reply.get('ok')} {error.get('message', '')[:40]}".rstrip()


def attack_pipeline(gw: GatewayProcess, count: int) -> str:
    ws = authenticated_raw(gw.port, TOKEN)
    answered = [0]

    def read() -> None:
        while answered[0] < count:
            if json.loads(ws.recv_text()).get("type") == "res":
                answered[0] += 1

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.monotonic()
    for n in range(count):
        ws.send_text(f'{{"type":"req","id":"p{n}","method":"health"}}')
    reader.join(300)
    took = time.monotonic() - started
    ws.close()
    return f"{answered[0]} of {count} answered in {took:.1f} s"


def attack_unauthenticated(gw: GatewayProcess, count: int) -> str:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        sock.sendall(UPGRADE)
        sockets.append(sock)
    last = wait_closed(sockets, 60)
    return f"all {count} closed by {last:.1f} s (1008 handshake timeout)"


def attack_auth_flood(gw: GatewayProcess, count: int) -> str:
    codes: dict[str, int] = {}
    for attempt in range(count):
        guess = RawClient(gw.url)
        guess.send(connect_frame(f"guess-{attempt}", client_id="cli", mode="cli"))
        code = guess.recv()["error"]["details"]["code"]
        codes[code] = codes.get(code, 0) + 1
        guess.close_code()
    return ", ".join(f"{n} {code}" for code, n in codes.items())


def attack_big_frame(gw: GatewayProcess, keys: int, memory: dict[str, float]) -> str:
    members = ",".join(f'"k{i}":1' for i in range(keys))
    frame = '{"type":"req","id":"big","method":"health","params":{' + members + "}}"
    memory["before"] = rss_mb(gw.pid)
    peak = [memory["before"]]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(gw.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    fates = []
    for _ in range(3):
        client = RawClient(gw.url, max_size=None)
        client.handshake(TOKEN, mode="cli", client_id="cli")
        client.send(frame)
        fates.append(fate(client))
    done.set()
    watcher.join()
    time.sleep(3)
    memory["peak"] = peak[0]
    memory["after"] = rss_mb(gw.pid)
    return f"3 x {len(frame) / 1e6:.1f} MB: " + "; ".join(sorted(set(fates)))


def attack_deep(gw: GatewayProcess) -> str:
    fates = []
    for _ in range(5):
        early = RawClient(gw.url)
        early.send("[" * 30_000 + "]" * 30_000)
        fates.append(fate(early))
        late = RawClient(gw.url, max_size=None)
        late.handshake(TOKEN, mode="cli", client_id="cli")
        late.send("[" * 100_000 + "]" * 100_000)
        fates.append(fate(late))
    return f"{len(fates)}: " + "; ".join(sorted(set(fates)))


def attack_never_read(gw: GatewayProcess, memory: dict[str, float]) -> str:
    helper = RawClient(gw.url)
    helper.handshake(TOKEN, mode="cli", client_id="cli")
    for n in range(20):  # `status` lists queued system events: ~10 KB answers
        helper.request("system-event", {"text": f"{n} " + "q" * 600})
    answer = len(json.dumps(helper.request("status")))
    helper.close()
    memory["before"] = rss_mb(gw.pid)
    attackers = [authenticated_raw(gw.port, TOKEN, rcvbuf=4096) for _ in range(4)]

    def flood(ws: MiniWebSocket) -> None:
        ws.settimeout(2.0)
        try:
            for n in range(2_000):
                ws.send_text(f'{{"type":"req","id":"s{n}","method":"status"}}')
        except TimeoutError:
            pass

    threads = [threading.Thread(target=flood, args=(ws,), daemon=True) for ws in attackers]
    for thread in threads:
        thread.start()
    peak = memory["before"]
    until = time.monotonic() + 5
    while time.monotonic() < until:
        peak = max(peak, rss_mb(gw.pid))
        time.sleep(0.05)
    memory["peak"] = peak
    for ws in attackers:
        ws.close()
    for thread in threads:
        thread.join(10)
    unbounded = 4 * 2_000 * answer / 2**20
    return (f"RSS +{peak - memory['before']:.1f} MiB (unbounded: {unbounded:.0f} MiB of "
            "answers, less the kernel's socket buffers)")


def attack_slow_loris(gw: GatewayProcess, count: int) -> str:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        sock.sendall(UPGRADE[:40])
        sockets.append(sock)
    stop = threading.Event()

    def dribble() -> None:  # one more byte every second, never the blank line
        for offset in range(40, len(UPGRADE) - 4):
            if stop.wait(1.0):
                return
            for sock in sockets:
                with contextlib.suppress(OSError):  # already cut
                    sock.sendall(UPGRADE[offset:offset + 1])

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    last = wait_closed(sockets, 60)
    stop.set()
    thread.join()
    return f"all {count} cut by {last:.1f} s without an answer"


# --------------------------------------------------------------------------- the run


def refusal_lines(gw: GatewayProcess) -> dict[str, tuple[int, int]]:
    """Per refusal kind: (log lines, refusals they account for)."""
    counts: dict[str, tuple[int, int]] = {}
    for line in gw.log_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        kind = entry.get("refusal")
        if kind:
            lines, total = counts.get(kind, (0, 0))
            counts[kind] = (lines + 1, total + int(entry.get("count", 1)))
    return counts


def run_attack(gw: GatewayProcess, attack: Callable[[GatewayProcess], str]) -> tuple[float, str]:
    """Run ``attack`` in a thread, time a new connection 0.3 s into it; return (new
    connection ms, what the attacker got)."""
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(attack(gw)), daemon=True)
    worker.start()
    time.sleep(0.3)
    fresh = new_connection_ms(gw.url)
    worker.join(600)
    return fresh, outcome[0] if outcome else "FAILED"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2], sys.argv[3])
        return
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--rest-s", type=float, default=3.0, help="seconds of probing at rest")
    cli.add_argument("--pipeline", type=int, default=20_000)
    cli.add_argument("--sockets", type=int, default=500)
    cli.add_argument("--guesses", type=int, default=200)
    cli.add_argument("--keys", type=int, default=1_000_000)
    cli.add_argument("--lorises", type=int, default=100)
    args = parse(cli, {"rest_s": 1.0, "pipeline": 2_000, "sockets": 50, "guesses": 30,
                       "keys": 200_000, "lorises": 10})
    raise_nofile()
    memory: dict[str, dict[str, float]] = {"big-frame": {}, "never-read": {}}
    attacks: list[tuple[str, Callable[[GatewayProcess], str]]] = [
        ("pipeline", lambda gw: attack_pipeline(gw, args.pipeline)),
        ("unauthenticated", lambda gw: attack_unauthenticated(gw, args.sockets)),
        ("auth-flood", lambda gw: attack_auth_flood(gw, args.guesses)),
        ("big-frame", lambda gw: attack_big_frame(gw, args.keys, memory["big-frame"])),
        ("deep-nesting", attack_deep),
        ("never-read", lambda gw: attack_never_read(gw, memory["never-read"])),
        ("slow-loris", lambda gw: attack_slow_loris(gw, args.lorises)),
    ]
    rows: list[list[str]] = []
    results: list[Result] = []
    details: dict[str, Any] = {}
    with gateway(config={"gateway": {"auth": {"token": TOKEN}}}) as gw:
        progress("at rest")
        probe = Probe(gw)
        time.sleep(args.rest_s)
        rest = summary(probe.stop())
        bound = max(10 * rest["p99"], 40.0)
        rows.append(["at rest", f"{rest['p50']:.2f}", f"{rest['p99']:.2f}",
                     f"{rest['max']:.1f}", "-", f"{rest['n']:.0f} round trips"])
        results.append(Result("rest.p99", "health p99 at rest", rest["p99"], "ms"))
        for name, attack in attacks:
            progress(name)
            probe = Probe(gw)
            outcome = run_attack(gw, attack)
            stats = summary(probe.stop())
            details[name] = {"health": stats, "newConnectionMs": outcome[0],
                             "outcome": outcome[1]}
            rows.append([name, f"{stats['p50']:.2f}", f"{stats['p99']:.2f}",
                         f"{stats['max']:.1f}",
                         "refused" if math.isnan(outcome[0]) else f"{outcome[0]:.0f}",
                         outcome[1]])
            results.append(Result(f"{name}.p99", f"health p99 under {name}", stats["p99"], "ms",
                                  target=round(bound, 1), detail=details[name]))
        gw.stop()
        refused = refusal_lines(gw)
    for name, reading in memory.items():
        if reading:
            results.append(Result(f"{name}.rss", f"gateway RSS growth, {name} (peak)",
                                  reading["peak"] - reading["before"], "MB", detail=reading))
    results.append(Result("big-frame.rss-after", "gateway RSS 3 s after the big frames, "
                          "over before", memory["big-frame"]["after"] -
                          memory["big-frame"]["before"], "MB"))
    notes = [f"p99 bound = max(10 x at-rest p99 {rest['p99']:.2f} ms, 40 ms) = {bound:.1f} ms"]
    notes += [f"log: {kind}: {lines} line(s) for {total} refusal(s)"
              for kind, (lines, total) in sorted(refused.items())]
    if not args.json:
        sys.stdout.write(table(rows, ["attack", "p50 ms", "p99 ms", "max ms", "new conn ms",
                                      "attacker"]) + "\n\n")
    report("hostile.py", results, args.json, notes, {"attacks": details})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
