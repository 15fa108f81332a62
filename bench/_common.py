"""Shared helpers for the benchmarks: statistics, /proc readings, timing commands,
printing results as a table or as JSON, and clients for many connections.

The gateway subprocess, free ports, config files, the clean environment and the
fake Bot API are the test suite's (``tests/harness.py``, ``tests/fake_telegram.py``):
importing this module puts ``tests/`` on ``sys.path``, so a script imports them
after ``_common``.

Every benchmark script builds a list of :class:`Result` rows and hands them to
:func:`report`, which prints either a small table or (with ``--json``) one JSON
document: ``{"script", "machine", "results": [...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from websockets.asyncio.client import connect as ws_connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from harness import GatewayProcess, clean_env, connect_frame

PYCACHE_DIR = Path(tempfile.gettempdir()) / "openclaw-bench-pycache"


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One measured figure, with its target (``value <= target`` is "met").

    ``at_least=True`` makes the target a lower bound (``value >= target``), for rates.
    """

    id: str
    label: str
    value: float
    unit: str
    target: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at_least: bool = False

    @property
    def met(self) -> bool | None:
        """True/False against the target, None when the row has no target."""
        if self.target is None:
            return None
        return self.value >= self.target if self.at_least else self.value <= self.target

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-able dict (including ``met``)."""
        data = asdict(self)
        data["met"] = self.met
        return data


def fmt(value: float | None, unit: str = "") -> str:
    """A number with a sensible number of decimals, plus its unit."""
    if value is None:
        return "-"
    whole = float(value).is_integer() and unit in ("", "/s", "KB")
    if whole or abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def verdict(met: bool | None) -> str:
    """``met``/``MISSED``/``-`` for the table."""
    return "-" if met is None else ("met" if met else "MISSED")


def table(rows: list[list[str]], header: list[str]) -> str:
    """Render rows as a plain fixed-width text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("-" * width for width in widths)

    def render(row: list[str]) -> str:
        """One row, cells padded to their column's width."""
        cells = zip(row, widths, strict=True)
        return "  ".join(str(cell).ljust(width) for cell, width in cells).rstrip()

    return "\n".join([render(header), line, *(render(row) for row in rows)])


def target_text(target: float | None, unit: str, at_least: bool = False) -> str:
    """``<= 150 ms`` (or ``>= 500 /s`` for a lower bound), ``-`` without a target."""
    if target is None:
        return "-"
    return f"{'>=' if at_least else '<='} {fmt(target, unit)}"


def results_table(results: list[Result]) -> str:
    """The standard results table: metric, value, target, verdict."""
    rows = [
        [r.label, fmt(r.value, r.unit), target_text(r.target, r.unit, r.at_least),
         verdict(r.met)]
        for r in results
    ]
    return table(rows, ["metric", "value", "target", "verdict"])


def source_digest() -> str | None:
    """A short SHA-256 over the installed ``openclaw`` package's ``.py`` files.

    The code under measurement may change between runs; this names the exact state.
    """
    import hashlib

    try:
        import openclaw
    except ImportError:  # pragma: no cover
        return None
    root = Path(openclaw.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, kernel, Python and websockets versions of this machine."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_total_mb = None
    meminfo = "/proc/meminfo"
    with contextlib.suppress(OSError, ValueError), open(meminfo, encoding="ascii") as stream:
        for line in stream:
            if line.startswith("MemTotal:"):
                mem_total_mb = int(line.split()[1]) // 1024
                break
    try:
        import websockets

        ws_version = websockets.__version__
    except ImportError:  # pragma: no cover - websockets is a project dependency
        ws_version = None
    try:
        import openclaw

        oc_version = openclaw.__version__
    except ImportError:  # pragma: no cover
        oc_version = None
    try:
        with open("/proc/loadavg", encoding="ascii") as stream:
            load = [float(x) for x in stream.read().split()[:3]]
    except (OSError, ValueError):
        load = []
    return {
        "cores": os.cpu_count(),
        "loadavg": load,
        "cpu": cpu,
        "memTotalMB": mem_total_mb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pythonImplementation": platform.python_implementation(),
        "websockets": ws_version,
        "openclaw": oc_version,
        "sourceDigest": source_digest(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the common ``--json`` and ``--quick`` flags."""
    parsed = argparse.ArgumentParser(description=description)
    parsed.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parsed.add_argument("--quick", action="store_true",
                        help="a few seconds with small counts, to check the script works "
                        "(its figures mean nothing)")
    return parsed


def parse(parsed: argparse.ArgumentParser, quick: dict[str, Any]) -> argparse.Namespace:
    """Parse the command line; with ``--quick`` the ``quick`` values become the defaults
    (options given explicitly still win)."""
    ns = parsed.parse_args()
    if ns.quick:
        parsed.set_defaults(**quick)
        ns = parsed.parse_args()
    return ns


def report(script: str, results: list[Result], as_json: bool, notes: list[str] | None = None,
           extra: dict[str, Any] | None = None) -> None:
    """Print results as a table (with notes) or as one JSON document."""
    if as_json:
        document = {
            "script": script,
            "machine": machine_info(),
            "results": [r.to_json() for r in results],
            "notes": notes or [],
        }
        if extra:
            document.update(extra)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    sys.stdout.write(f"{script}\n{results_table(results)}\n")
    for note in notes or []:
        sys.stdout.write(f"  note: {note}\n")


def progress(message: str) -> None:
    """A progress line on stderr (stdout stays clean for ``--json``)."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- statistics


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest-rank, 0 < pct <= 100) of ``samples``."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(samples: list[float]) -> dict[str, float]:
    """min / p50 / p90 / p99 / max / mean / n of ``samples``."""
    return {
        "n": len(samples),
        "min": min(samples),
        "p50": percentile(samples, 50),
        "median": percentile(samples, 50),
        "p90": percentile(samples, 90),
        "p99": percentile(samples, 99),
        "max": max(samples),
        "mean": sum(samples) / len(samples),
    }


# --------------------------------------------------------------------------- OS readings


def proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of /proc/PID/status (VmRSS, VmHWM, RssAnon, ...) in kB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as stream:
        for line in stream:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if (len(parts) == 2 and parts[1] == "kB") or name == "Threads":
                values[name] = int(parts[0])
    return values


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MiB (from /proc/PID/status)."""
    return proc_status(pid)["VmRSS"] / 1024


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM (peak RSS), RssAnon and RssFile of ``pid`` in MiB."""
    status = proc_status(pid)
    return {key: status[key] / 1024 for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")
            if key in status}


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_limit(pid: int) -> int | None:
    """The soft RLIMIT_NOFILE of ``pid`` (from /proc/PID/limits)."""
    with open(f"/proc/{pid}/limits", encoding="ascii") as stream:
        for line in stream:
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return None if soft == "unlimited" else int(soft)
    return None


def cpu_times(pid: int | None = None) -> tuple[float, float]:
    """(user, system) CPU seconds used so far by ``pid`` (/proc/PID/stat), or by this
    process when ``pid`` is None."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime, usage.ru_stime
    with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid``."""
    return sum(cpu_times(pid))


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stream:
        values = [int(x) for x in stream.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy(sample_s: float = 1.0) -> float:
    """Fraction (0..1) of all CPUs that were busy over the next ``sample_s`` seconds."""
    busy0, total0 = cpu_jiffies()
    time.sleep(sample_s)
    busy1, total1 = cpu_jiffies()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(max_wait_s: float, threshold: float = 0.25) -> float:
    """Wait (up to ``max_wait_s``) until the machine is at most ``threshold`` busy.

    Other processes on the machine skew every figure here, so benchmarks are best
    started when it is idle. Returns the last busy fraction seen.
    """
    deadline = time.monotonic() + max_wait_s
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy()
    return busy


def raise_nofile(wanted: int | None = None) -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit (or ``wanted``); return it.

    Child processes (the gateway) inherit the new limit, so call this before spawning.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if wanted is not None:
        target = min(target, max(wanted, soft))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------- commands


def openclaw_executable() -> str:
    """The ``openclaw`` console script next to this interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / "openclaw"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("openclaw")
    if found is None:
        raise SystemExit("openclaw is not installed in this environment (pip install -e .)")
    return found


def bytecode_vars(bytecode_cache: bool = True) -> dict[str, str | None]:
    """Environment variables for how a child ``python``/``openclaw`` handles bytecode.

    With ``bytecode_cache`` (how an installed CLI normally runs) compiled modules are
    cached under :data:`PYCACHE_DIR` (``PYTHONPYCACHEPREFIX``, so nothing is written
    into the source tree) and ``PYTHONDONTWRITEBYTECODE`` is dropped; without it,
    the editable install's own modules are compiled from source on every start.
    A None value removes the variable (see ``harness.clean_env``).
    """
    if bytecode_cache:
        return {"PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": str(PYCACHE_DIR)}
    return {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": None}


def child_env(home: Path, *, bytecode_cache: bool = True, **extra: str) -> dict[str, str]:
    """The test suite's clean environment for ``home``, with :func:`bytecode_vars`."""
    return clean_env(home, **bytecode_vars(bytecode_cache), **extra)


def run_timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Run ``argv`` to completion; return (wall ms, child CPU ms, stdout).

    Wall time is :func:`time.perf_counter` from just before the spawn to the reaped
    exit; CPU time (user + system) is the RUSAGE_CHILDREN delta, which is less
    sensitive to other load on the machine than wall time. Exits on failure.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL,
                          check=False)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[:500]}")
    return wall, cpu, proc.stdout


def time_commands(
    variants: dict[str, tuple[list[str], dict[str, str]]],
    runs: int,
    warmup: int = 2,
    check: Callable[[str, bytes], None] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Time several commands round-robin (so background load hits them alike).

    Returns ``{name: {"wall": [ms...], "cpu": [ms...]}}`` over ``runs`` measured
    rounds, after ``warmup`` unmeasured ones (which also fill the bytecode cache).
    ``check(name, stdout)`` may raise to reject a run's output.
    """
    samples: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name in variants
    }
    for index in range(warmup + runs):
        for name, (argv, env) in variants.items():
            wall, cpu, stdout = run_timed(argv, env)
            if check is not None:
                check(name, stdout)
            if index >= warmup:
                samples[name]["wall"].append(wall)
                samples[name]["cpu"].append(cpu)
    return samples


# --------------------------------------------------------------------------- the gateway


@contextlib.contextmanager
def gateway(*args: str, config: dict[str, Any] | None = None,
            home: Path | None = None) -> Iterator[GatewayProcess]:
    """A started gateway (the test suite's :class:`GatewayProcess`) on a free port, with
    the bytecode cache on, under ``home`` or a temporary HOME removed afterwards."""
    own_home = home is None
    where = Path(tempfile.mkdtemp(prefix="openclaw-bench-")) if home is None else home
    process = GatewayProcess(where, *args, config=config, env=bytecode_vars())
    try:
        yield process.start(timeout=30)
    finally:
        process.stop()
        if own_home:
            shutil.rmtree(where, ignore_errors=True)


# --------------------------------------------------------------------------- clients


async def ws_handshake(url: str, token: str, *, mode: str = "cli", client_id: str = "cli",
                       instance_id: str | None = None, timeout: float = 30.0) -> Any:
    """Open a websockets asyncio connection and complete ``connect``; return it.

    Raises RuntimeError when the gateway refuses the handshake.
    """
    ws = await ws_connect(url, compression=None, open_timeout=timeout, max_size=None,
                       ping_interval=None)
    try:
        challenge = json.loads(await ws.recv())
        if challenge.get("event") != "connect.challenge":
            raise RuntimeError(f"expected connect.challenge, got {challenge!r:.200}")
        frame = connect_frame(token, mode=mode, client_id=client_id, instance_id=instance_id)
        await ws.send(json.dumps(frame))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("type") == "res" and reply.get("id") == frame["id"]:
                break
        if not reply.get("ok"):
            raise RuntimeError(f"connect refused: {reply.get('error')!r:.300}")
    except BaseException:
        await ws.close()
        raise
    return ws


async def ws_call(ws: Any, method: str, params: dict[str, Any] | None = None,
                  timeout: float = 30.0) -> dict[str, Any]:
    """Send one request on a connection nobody else reads; return its ``res`` frame."""
    frame: dict[str, Any] = {"type": "req", "id": os.urandom(8).hex(), "method": method}
    if params is not None:
        frame["params"] = params
    await ws.send(json.dumps(frame))
    async with asyncio.timeout(timeout):
        while True:
            reply: dict[str, Any] = json.loads(await ws.recv())
            if reply.get("type") == "res" and reply.get("id") == frame["id"]:
                return reply


class ClientPool:
    """Many authenticated websockets asyncio clients in this process, each with a reader task.

    ``on_message(index, message)`` (optional) is called by client ``index``'s reader
    for every frame it receives, as soon as it is received; keep it cheap.
    """

    def __init__(self, url: str, token: str, count: int, *, mode: str = "cli",
                 concurrency: int = 50,
                 on_message: Callable[[int, str | bytes], None] | None = None) -> None:
        """Describe the pool; nothing is opened until :meth:`open`."""
        self.url = url
        self.token = token
        self.count = count
        self.mode = mode
        self.concurrency = concurrency
        self.on_message = on_message
        self.connections: list[Any] = []
        self.received = 0
        self.errors: list[str] = []
        self._readers: list[asyncio.Task[None]] = []

    async def open(self) -> float:
        """Open and handshake all clients (at most ``concurrency`` at a time); return seconds.

        Each client's reader task starts as soon as its handshake completes.
        """
        gate = asyncio.Semaphore(self.concurrency)
        loop = asyncio.get_running_loop()

        async def one(index: int) -> None:
            """Open and handshake client ``index``, then start its reader."""
            async with gate:
                ws = await ws_handshake(self.url, self.token, mode=self.mode)
            self.connections.append(ws)
            self._readers.append(loop.create_task(self._read(index, ws)))

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(self.count)),
                                       return_exceptions=True)
        elapsed = time.perf_counter() - started
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self.errors.extend(f"{type(exc).__name__}: {exc}" for exc in failures[:5])
            raise RuntimeError(f"{len(failures)} of {self.count} clients failed to connect; "
                               f"first: {self.errors[0]}")
        return elapsed

    async def _read(self, index: int, ws: Any) -> None:
        """Drain one connection, handing each frame to ``on_message``."""
        callback = self.on_message
        try:
            async for message in ws:
                self.received += 1
                if callback is not None:
                    callback(index, message)
        except ConnectionClosed as exc:
            self.errors.append(f"client {index}: {exc}")

    async def close(self) -> float:
        """Close every client (closing handshake); return seconds taken."""
        gate = asyncio.Semaphore(max(self.concurrency, 100))

        async def one(ws: Any) -> None:
            """Close one connection."""
            async with gate:
                await ws.close()

        started = time.perf_counter()
        await asyncio.gather(*(one(ws) for ws in self.connections), return_exceptions=True)
        await asyncio.gather(*self._readers, return_exceptions=True)
        self.connections = []
        self._readers = []
        return time.perf_counter() - started


class LeanConnection(asyncio.Protocol):
    """A gateway connection on a plain asyncio transport, for clients that must cost
    little: many in one process, on the same cores as the gateway they measure.

    websockets' sans-I/O :class:`~websockets.client.ClientProtocol` does all of
    WebSocket (the upgrade, parsing and masking frames, answering pings, closing);
    there is no task per connection. After ``hello-ok`` every text frame is handed
    to ``on_frame(connection, received_at, data)``, ``received_at`` being the
    :func:`time.perf_counter` reading taken when its bytes were read. :attr:`closed`
    resolves when the connection is gone.
    """

    def __init__(self, url: str, token: str,
                 on_frame: Callable[[LeanConnection, float, bytes], None], *,
                 index: int = 0, mode: str = "cli") -> None:
        """Connection ``index``; use :meth:`open` to connect."""
        loop = asyncio.get_running_loop()
        self.index = index
        self.token = token
        self.mode = mode
        self.on_frame = on_frame
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.is_open = False
        self.frames = 0  # text frames received after hello-ok
        self.connect_id = ""
        self.transport: asyncio.Transport | None = None
        self.proto = ClientProtocol(parse_uri(url), max_size=None)

    @classmethod
    async def open(cls, url: str, token: str,
                   on_frame: Callable[[LeanConnection, float, bytes], None], *,
                   index: int = 0, mode: str = "cli", timeout: float = 30.0) -> LeanConnection:
        """Connect to ``url`` and complete the ``connect`` handshake."""
        uri = parse_uri(url)
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: cls(url, token, on_frame, index=index, mode=mode), uri.host, uri.port)
        try:
            await asyncio.wait_for(asyncio.shield(conn.ready), timeout)
        except BaseException:
            conn.abort()
            raise
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the HTTP upgrade request."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.proto.send_request(self.proto.connect())
        self._flush()

    def _flush(self) -> None:
        """Write whatever the sans-I/O protocol has queued (requests, pongs, the close)."""
        assert self.transport is not None
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def data_received(self, data: bytes) -> None:
        """Timestamp the read, let the protocol parse it, hand text frames on."""
        now = time.perf_counter()
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            if not isinstance(event, Frame):  # the upgrade response
                if self.proto.handshake_exc is not None:
                    self._fail(RuntimeError(f"upgrade refused: {self.proto.handshake_exc}"))
                    return
            elif event.opcode is Opcode.TEXT:
                if self.is_open:
                    self.frames += 1
                    self.on_frame(self, now, bytes(event.data))
                else:
                    self._handshake(json.loads(event.data))
        self._flush()
        if self.proto.close_expected():
            assert self.transport is not None
            self.transport.close()

    def _handshake(self, frame: dict[str, Any]) -> None:
        """Answer ``connect.challenge`` with ``connect``; resolve :attr:`ready` on hello-ok."""
        if frame.get("event") == "connect.challenge":
            request = connect_frame(self.token, mode=self.mode, client_id="cli")
            self.connect_id = request["id"]
            self.proto.send_text(json.dumps(request).encode())
        elif frame.get("type") == "res" and frame.get("id") == self.connect_id:
            if frame.get("ok") is True:
                self.is_open = True
                if not self.ready.done():
                    self.ready.set_result(None)
            else:
                self._fail(RuntimeError(f"connect refused: {frame!r:.300}"))

    def _fail(self, exc: Exception) -> None:
        """Give up on this connection."""
        if not self.ready.done():
            self.ready.set_exception(exc)
        self.abort()

    def send(self, frame: dict[str, Any]) -> float:
        """Write one frame; return the :func:`time.perf_counter` reading just before."""
        data = json.dumps(frame, separators=(",", ":")).encode()
        started = time.perf_counter()
        self.proto.send_text(data)
        self._flush()
        return started

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail the handshake if it was pending; resolve :attr:`closed`."""
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection {self.index} closed: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def abort(self) -> None:
        """Drop the connection at once."""
        if self.transport is not None:
            self.transport.abort()

    async def close(self) -> None:
        """Send a close frame and wait (bounded) for the gateway to close the socket."""
        if not self.closed.done():
            self.proto.send_close()
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 5)
        except TimeoutError:
            self.abort()


class PipedChild:
    """A helper process (``spawn``: a fake server, a probe) driven over a pipe.

    ``target(conn, *args)`` runs in the child: it sends one greeting when ready (its
    base URL, say), then answers each command tuple, and on ``("stop",)`` answers and
    returns. :meth:`call` sends one command and returns its answer, from any thread.
    A benchmark's fake runs in a process of its own so that its work is not counted
    against the gateway's clients, nor theirs against it.
    """

    def __init__(self, target: Callable[..., None], *args: Any,
                 start_timeout_s: float = 60.0) -> None:
        """Start the child and wait for its greeting (:attr:`greeting`)."""
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        child.close()  # so that a dead child is an EOFError here, not a hang
        if not self.conn.poll(start_timeout_s):
            self.process.kill()
            raise RuntimeError(f"{target.__name__}: the child process did not start "
                               f"within {start_timeout_s:g} s")
        self.greeting: Any = self.conn.recv()
        self.pid = int(self.process.pid or 0)
        self.lock = threading.Lock()

    def call(self, *command: Any) -> Any:
        """Send one command (a tuple: its name, then its arguments); its answer."""
        with self.lock:
            self.conn.send(command)
            return self.conn.recv()

    def stop(self) -> None:
        """Ask the child to stop, and reap it (killed if it does not end in 5 s)."""
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self.call("stop")
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
