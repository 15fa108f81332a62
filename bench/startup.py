"""Gateway start-up time (target <= 300 ms) and idle RSS (target <= 40 MB).

Start-up: the gateway is spawned as ``python -m openclaw gateway --port PORT`` on a
port picked free beforehand; the benchmark polls ``connect()`` on that TCP port
every millisecond until it is accepted (the kernel accepts once the socket
listens), then sends ``GET /readyz`` on that connection and waits for the answer
(the event loop is serving). All times are :func:`time.perf_counter` offsets from
just before the spawn; the moment the ``listening on ws://...`` line arrived on
the gateway's stdout is reported too. The HOME is reused across starts after one
unmeasured warm-up start (a restart, token already generated, bytecode cached);
a few starts on an empty HOME (first run: token generation, state dir creation)
and without the bytecode cache are reported for comparison.

Idle RSS: a fresh gateway is left idle for ``--idle`` seconds after it printed
``listening``, then VmRSS is read from ``/proc/PID/status``.

Optional parts: ``--telegram-runs`` restarts alternate between a gateway with no
config and one with a Telegram account configured whose ``apiRoot`` is a loopback
port nothing listens on (``http://127.0.0.1:9``, so the account keeps retrying and
``/readyz`` answers 503, which counts as served here); both start times, both idle
RSS figures, and the modules each has imported once idle (counted from
``PYTHONPROFILEIMPORTTIME`` output, one more start each) are reported, to show the
channel's network stack is imported only when an account is configured.
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    Result,
    bytecode_vars,
    cpu_seconds,
    gateway,
    memory_mb,
    open_fds,
    parse,
    parser,
    progress,
    report,
    summary,
)
from harness import GatewayProcess, free_port

START_TARGET_MS = 300.0
RSS_TARGET_MB = 40.0
POLL_INTERVAL_S = 0.001
#: A Telegram account whose Bot API is a loopback port nothing listens on.
TELEGRAM_CONFIG = {"channels": {"telegram": {
    "botToken": "123456:bench-not-a-real-token", "apiRoot": "http://127.0.0.1:9",
    "allowFrom": [4242], "pollTimeoutSeconds": 1}}}
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| ( *)(\S+)")
READYZ = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def poll_accept(port: int, gw: GatewayProcess, timeout: float = 20.0) -> socket.socket:
    """Connect to ``port`` until accepted; return the connected socket."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            if not gw.alive():
                raise RuntimeError("gateway exited during start:\n" + gw.output) from None
            if time.perf_counter() > deadline:
                raise RuntimeError("gateway never accepted:\n" + gw.output) from None
            time.sleep(POLL_INTERVAL_S)


def readyz(sock: socket.socket) -> int:
    """Send ``GET /readyz`` on ``sock`` and return the HTTP status of the answer."""
    with sock:
        sock.sendall(READYZ)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def one_start(home: Path, bytecode_cache: bool = True,
              config: dict[str, Any] | None = None) -> dict[str, float]:
    """Start a gateway once; return ms to TCP accept, /readyz answer, listening line, stop.

    With a ``config`` (written to the state dir first) whose channel account cannot
    connect, ``/readyz`` answers 503; that still shows the event loop serving.
    """
    port = free_port()
    gw = GatewayProcess(home, port=port, config=config, env=bytecode_vars(bytecode_cache))
    gw.spawn()
    try:
        sock = poll_accept(port, gw)
        accepted = time.perf_counter()
        status = readyz(sock)
        answered = time.perf_counter()
        if status not in ((200,) if config is None else (200, 503)):
            raise RuntimeError(f"/readyz answered {status}")
        gw.wait_listening(timeout=20)
        cpu_ms = cpu_seconds(gw.pid) * 1000
        origin = gw.spawned_at
        timings = {
            "accept_ms": (accepted - origin) * 1000,
            "readyz_ms": (answered - origin) * 1000,
            "listening_line_ms": (gw.listening_at - origin) * 1000,
            "cpu_ms": cpu_ms,
        }
        stop_started = time.perf_counter()
        status_code = gw.stop()
        timings["stop_ms"] = (time.perf_counter() - stop_started) * 1000
        if status_code != 0:
            raise RuntimeError(f"gateway exited {status_code} on SIGTERM")
        return timings
    finally:
        gw.stop()


def series(runs: int, fresh_home: bool, bytecode_cache: bool = True) -> dict[str, list[float]]:
    """``runs`` starts (each on a new empty HOME when ``fresh_home``); metric -> samples."""
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="openclaw-bench-") as shared:
        for index in range(runs):
            if fresh_home:
                with tempfile.TemporaryDirectory(prefix="openclaw-bench-") as home:
                    timings = one_start(Path(home), bytecode_cache)
            else:
                timings = one_start(Path(shared), bytecode_cache)
            for key, value in timings.items():
                out.setdefault(key, []).append(value)
            progress(f"  start {index + 1}/{runs}: accept {timings['accept_ms']:.0f} ms")
    return out


def idle_memory(idle_s: float, config: dict[str, Any] | None = None) -> dict[str, float]:
    """Start a gateway, leave it idle ``idle_s`` seconds, return its memory figures (MiB)."""
    with gateway(config=config) as gw:
        time.sleep(idle_s)
        figures = memory_mb(gw.pid)
        figures["fds"] = open_fds(gw.pid)
        return figures


def paired_series(runs: int, config: dict[str, Any]) -> tuple[dict[str, list[float]],
                                                               dict[str, list[float]]]:
    """``runs`` restarts each without config and with ``config``, alternating (one
    unmeasured start of each first); return (plain, configured) metric -> samples."""
    plain: dict[str, list[float]] = {}
    configured: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="openclaw-bench-") as home_a, \
            tempfile.TemporaryDirectory(prefix="openclaw-bench-") as home_b:
        one_start(Path(home_a))
        one_start(Path(home_b), config=config)
        for index in range(runs):
            for out, home, cfg in ((plain, home_a, None), (configured, home_b, config)):
                timings = one_start(Path(home), config=cfg)
                for key, value in timings.items():
                    out.setdefault(key, []).append(value)
            progress(f"  pair {index + 1}/{runs}: accept {plain['accept_ms'][-1]:.0f} ms "
                     f"without config, {configured['accept_ms'][-1]:.0f} ms with Telegram")
    return plain, configured


def imported_modules(idle_s: float, config: dict[str, Any] | None = None) -> list[str]:
    """The modules a gateway has imported once idle ``idle_s`` seconds after ``listening``
    (read from its ``PYTHONPROFILEIMPORTTIME`` lines, which go to its merged output)."""
    home = Path(tempfile.mkdtemp(prefix="openclaw-bench-"))
    env = {**bytecode_vars(), "PYTHONPROFILEIMPORTTIME": "1"}
    gw = GatewayProcess(home, config=config, env=env)
    try:
        gw.start(timeout=30)
        time.sleep(idle_s)
        names = []
        for line in list(gw.lines):
            match = IMPORT_LINE.match(line)
            if match:
                names.append(match.group(2))
        return sorted(set(names))
    finally:
        gw.stop()
        shutil.rmtree(home, ignore_errors=True)


def top_level(names: list[str]) -> list[str]:
    """Distinct top-level packages of ``names`` (``openclaw.x`` modules kept whole)."""
    tops = {name if name.startswith("openclaw.") else name.split(".")[0] for name in names}
    return sorted(tops)


def compare_telegram(runs: int, idle_s: float) -> list[Result]:
    """Start time, idle RSS and imported modules without config and with a Telegram
    account configured (:data:`TELEGRAM_CONFIG`)."""
    progress(f"{runs} restarts each without config and with a Telegram account, alternating")
    plain_raw, tg_raw = paired_series(runs, TELEGRAM_CONFIG)
    plain = {key: summary(values) for key, values in plain_raw.items()}
    tg = {key: summary(values) for key, values in tg_raw.items()}
    progress(f"idle RSS after {idle_s:g} s, without config and with a Telegram account")
    plain_mem = idle_memory(idle_s, None)
    tg_mem = idle_memory(idle_s, TELEGRAM_CONFIG)
    progress("modules imported once idle, without config and with a Telegram account")
    plain_mods = imported_modules(idle_s, None)
    tg_mods = imported_modules(idle_s, TELEGRAM_CONFIG)
    extra = sorted(set(tg_mods) - set(plain_mods))
    missing = sorted(set(plain_mods) - set(tg_mods))
    modules = {"withoutConfig": len(plain_mods), "withTelegram": len(tg_mods),
               "onlyWithTelegram": extra, "onlyWithoutConfig": missing,
               "onlyWithTelegramTopLevel": top_level(extra)}
    return [
        Result("start_plain_accept_ms",
               f"paired: no config, start -> TCP accept, median of {runs}",
               plain["accept_ms"]["median"], "ms", detail=plain["accept_ms"]),
        Result("start_telegram_accept_ms",
               f"paired: Telegram account (apiRoot 127.0.0.1:9), start -> TCP accept, "
               f"median of {runs}", tg["accept_ms"]["median"], "ms", detail=tg["accept_ms"]),
        Result("start_telegram_cpu_ms", "  gateway CPU time until listening, median",
               tg["cpu_ms"]["median"], "ms", detail=tg["cpu_ms"]),
        Result("start_plain_cpu_ms", "  same without config, median",
               plain["cpu_ms"]["median"], "ms", detail=plain["cpu_ms"]),
        Result("idle_rss_plain_mb", f"idle VmRSS after {idle_s:g} s, no config",
               plain_mem["VmRSS"], "MB", detail=plain_mem),
        Result("idle_rss_telegram_mb", f"idle VmRSS after {idle_s:g} s, Telegram account",
               tg_mem["VmRSS"], "MB", detail=tg_mem),
        Result("modules_plain", "modules imported once idle, no config", len(plain_mods), "",
               detail=modules),
        Result("modules_telegram", "modules imported once idle, Telegram account",
               len(tg_mods), ""),
        Result("modules_telegram_only", "  of which only with the Telegram account",
               len(extra), "", detail={"topLevel": top_level(extra)}),
    ]


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=10, help="measured restarts (default 10)")
    args.add_argument("--fresh-runs", type=int, default=3,
                      help="starts on an empty HOME, and without bytecode cache (default 3)")
    args.add_argument("--idle", type=float, default=2.0, help="idle seconds before RSS")
    args.add_argument("--telegram-runs", type=int, default=10,
                      help="restarts each without config and with a Telegram account "
                      "(unreachable apiRoot), alternating (default 10; 0 to skip)")
    ns = parse(args, quick={"runs": 2, "fresh_runs": 1, "idle": 0.5, "telegram_runs": 1})
    progress("warm-up start (unmeasured)")
    series(1, fresh_home=True)
    progress(f"{ns.runs} restarts on one HOME")
    warm = {key: summary(values) for key, values in series(ns.runs, False).items()}
    progress(f"{ns.fresh_runs} first starts on an empty HOME")
    fresh = {key: summary(values) for key, values in series(ns.fresh_runs, True).items()}
    progress(f"{ns.fresh_runs} restarts without bytecode cache")
    nocache = {key: summary(values)
               for key, values in series(ns.fresh_runs, False, bytecode_cache=False).items()}
    progress(f"idle RSS after {ns.idle:g} s")
    memory = idle_memory(ns.idle)
    optional: list[Result] = []
    if ns.telegram_runs > 0:
        optional = compare_telegram(ns.telegram_runs, ns.idle)
    results = [
        Result("start_accept_ms", f"start -> TCP accept, median of {ns.runs}",
               warm["accept_ms"]["median"], "ms", START_TARGET_MS, warm["accept_ms"]),
        Result("start_accept_max_ms", "  same, max", warm["accept_ms"]["max"], "ms"),
        Result("start_readyz_ms", "start -> /readyz 200 answered, median",
               warm["readyz_ms"]["median"], "ms", detail=warm["readyz_ms"]),
        Result("start_listening_line_ms", "start -> 'listening' line on stdout, median",
               warm["listening_line_ms"]["median"], "ms", detail=warm["listening_line_ms"]),
        Result("start_cpu_ms", "gateway CPU time until listening, median",
               warm["cpu_ms"]["median"], "ms", detail=warm["cpu_ms"]),
        Result("stop_ms", "SIGTERM -> exit (idle, no clients), median",
               warm["stop_ms"]["median"], "ms", detail=warm["stop_ms"]),
        Result("start_fresh_home_accept_ms",
               f"first start on empty HOME -> TCP accept, median of {ns.fresh_runs}",
               fresh["accept_ms"]["median"], "ms", detail=fresh["accept_ms"]),
        Result("start_nocache_accept_ms",
               f"restart without bytecode cache -> TCP accept, median of {ns.fresh_runs}",
               nocache["accept_ms"]["median"], "ms", detail=nocache["accept_ms"]),
        Result("idle_rss_mb", f"idle gateway VmRSS after {ns.idle:g} s", memory["VmRSS"], "MB",
               RSS_TARGET_MB, memory),
        Result("idle_rss_anon_mb", "  of which RssAnon", memory.get("RssAnon", 0.0), "MB"),
        Result("idle_hwm_mb", "  peak (VmHWM)", memory.get("VmHWM", 0.0), "MB"),
        *optional,
    ]
    report("startup", results, ns.json, notes=[
        "times are from just before subprocess spawn (time.perf_counter)",
        "TCP accept polled every 1 ms; MB here means MiB (kB from /proc / 1024)",
    ])


if __name__ == "__main__":
    main()
