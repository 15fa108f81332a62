"""Shared helpers for the benchmarks: a gateway subprocess, free ports, /proc readings,
statistics, and printing results as a table or as JSON.

Every benchmark script builds a list of :class:`Result` rows and hands them to
:func:`report`, which prints either a small table or (with ``--json``) one JSON
document: ``{"script", "machine", "results": [...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LISTENING = re.compile(r"listening on ws://[0-9.]+:(\d+) \(pid (\d+)")
READY_TIMEOUT_S = 20.0
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
    """An argument parser with the common ``--json`` flag."""
    parsed = argparse.ArgumentParser(description=description)
    parsed.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return parsed


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stream:
        values = [int(x) for x in stream.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy(sample_s: float = 1.0) -> float:
    """Fraction (0..1) of all CPUs that were busy over the next ``sample_s`` seconds."""
    busy0, total0 = _cpu_jiffies()
    time.sleep(sample_s)
    busy1, total1 = _cpu_jiffies()
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


def openclaw_executable() -> str:
    """The ``openclaw`` console script next to this interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / "openclaw"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("openclaw")
    if found is None:
        raise SystemExit("openclaw is not installed in this environment (pip install -e .)")
    return found


def child_env(
    home: Path | None = None, *, bytecode_cache: bool = True, **extra: str
) -> dict[str, str]:
    """The environment for a child ``python``/``openclaw`` process.

    The inherited environment minus ``OPENCLAW_*``, with HOME set to ``home``. With
    ``bytecode_cache`` (the default, how an installed CLI normally runs) compiled
    modules are cached under :data:`PYCACHE_DIR` (``PYTHONPYCACHEPREFIX``, so
    nothing is written into the source tree) and ``PYTHONDONTWRITEBYTECODE`` is
    dropped; without it, ``PYTHONDONTWRITEBYTECODE=1`` is set, so the editable
    install's own modules are compiled from source on every start.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    if home is not None:
        env["HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_DIR)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    env.update(extra)
    return env


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


class Gateway:
    """A gateway subprocess (``python -m openclaw gateway``) under an isolated HOME.

    Use as a context manager, or call :meth:`start` / :meth:`stop`. stdout is read
    by a thread that timestamps each line with :func:`time.perf_counter`, so the
    moment the ``listening`` line appeared can be compared with other clocks.
    """

    def __init__(self, home: Path | None = None, *, port: int = 0,
                 config: dict[str, Any] | None = None, args: tuple[str, ...] = (),
                 bytecode_cache: bool = True) -> None:
        """Prepare (not start) a gateway; ``home=None`` makes a temporary HOME."""
        self._own_home = home is None
        self.home = Path(tempfile.mkdtemp(prefix="openclaw-bench-")) if home is None else home
        self.state_dir = self.home / ".openclaw"
        self.requested_port = port
        self.args = args
        self.bytecode_cache = bytecode_cache
        if config is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.state_dir / "openclaw.json").write_text(json.dumps(config))
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[tuple[float, str]] = []
        self.spawned_at = 0.0
        self.listening_at = 0.0
        self.port = 0
        self.pid = 0
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        """The argv that starts the gateway."""
        return [sys.executable, "-m", "openclaw", "gateway", "--port", str(self.requested_port),
                *self.args]

    def spawn(self) -> Gateway:
        """Start the process; return at once (``spawned_at`` is taken just before)."""
        self._listening.clear()
        self.lines = []
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command, env=child_env(self.home, bytecode_cache=self.bytecode_cache),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, bufsize=1,
        )
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        return self

    def _pump(self) -> None:
        """Read stdout lines, timestamping them; note the ``listening`` line."""
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            now = time.perf_counter()
            line = raw.rstrip("\n")
            self.lines.append((now, line))
            match = LISTENING.search(line)
            if match and not self._listening.is_set():
                self.listening_at = now
                self.port = int(match.group(1))
                self._listening.set()
        self._listening.set()  # wake waiters if the process died

    def wait_listening(self, timeout: float = READY_TIMEOUT_S) -> Gateway:
        """Block until the ``listening`` line (fails if the process exits first)."""
        if not self._listening.wait(timeout) or not self.port:
            raise RuntimeError("gateway did not start; output:\n" + self.output)
        return self

    def start(self, timeout: float = READY_TIMEOUT_S) -> Gateway:
        """Spawn and wait for the ``listening`` line."""
        return self.spawn().wait_listening(timeout)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(line for _, line in self.lines)

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """The configured token, or the generated one from the state dir."""
        config_path = self.state_dir / "openclaw.json"
        if config_path.exists():
            auth = json.loads(config_path.read_text()).get("gateway", {}).get("auth", {})
            if auth.get("token"):
                return str(auth["token"])
        return (self.state_dir / "credentials" / "gateway-token").read_text().strip()

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(2)
        return self.proc.returncode

    def cleanup(self) -> None:
        """Stop, and remove the temporary HOME if this object created it."""
        self.stop()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Gateway:
        """Start the gateway (unless already spawned); clean up if it does not start."""
        if self.proc is None:
            try:
                self.start()
            except BaseException:
                self.cleanup()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the gateway and clean up its temporary HOME."""
        self.cleanup()


# --------------------------------------------------------------------------- protocol


def connect_frame(token: str, *, mode: str = "cli", client_id: str = "cli",
                  instance_id: str | None = None,
                  scopes: tuple[str, ...] = ("operator.admin",)) -> dict[str, Any]:
    """A ``connect`` request frame (protocol 3..4, operator role, token auth)."""
    return {
        "type": "req",
        "id": uuid.uuid4().hex,
        "method": "connect",
        "params": {
            "minProtocol": 3,
            "maxProtocol": 4,
            "client": {"id": client_id, "version": "bench", "platform": sys.platform,
                       "mode": mode, "instanceId": instance_id or uuid.uuid4().hex},
            "role": "operator",
            "scopes": list(scopes),
            "auth": {"token": token},
        },
    }


async def ws_handshake(url: str, token: str, *, mode: str = "cli", client_id: str = "cli",
                       instance_id: str | None = None, timeout: float = 30.0) -> Any:
    """Open a websockets asyncio connection and complete ``connect``; return it.

    Raises RuntimeError when the gateway refuses the handshake.
    """
    from websockets.asyncio.client import connect

    ws = await connect(url, compression=None, open_timeout=timeout, max_size=None,
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


class ClientPool:
    """Many authenticated websockets clients in this process, each with a reader task.

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
        self._readers: list[Any] = []

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
        from websockets.exceptions import ConnectionClosed

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


async def ws_call(ws: Any, method: str, params: dict[str, Any] | None = None,
                  timeout: float = 30.0) -> dict[str, Any]:
    """Send one request on a connection nobody else reads; return its ``res`` frame."""
    request_id = uuid.uuid4().hex
    frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
    if params is not None:
        frame["params"] = params
    await ws.send(json.dumps(frame))
    async with asyncio.timeout(timeout):
        while True:
            reply: dict[str, Any] = json.loads(await ws.recv())
            if reply.get("type") == "res" and reply.get("id") == request_id:
                return reply
