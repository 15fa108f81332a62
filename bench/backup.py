"""Backups and the start-up database check: what they cost, and that serving goes on.

A gateway database of about ``--mb`` MB (transcript rows) is built in a temporary
HOME. Measured:

- the start-up check (:func:`openclaw.store.db.inspect_database`: header, length,
  ``PRAGMA quick_check``) on it, best of 5, warm page cache;
- the gateway's start (spawn to ``listening``) on that database and on a HOME
  with a new (empty) database, best of ``--starts`` each after one unmeasured start;
- ``openclaw backup create`` while the gateway runs, with a client calling
  ``health`` back to back on one connection all along: the backup's wall time and
  archive size, and the ``health`` round trips before and during it (p50, max);
- ``openclaw backup verify`` and, after the gateway is stopped, ``openclaw backup
  restore`` of that archive (wall time of the CLI process).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from _common import (
    Result,
    bytecode_vars,
    parse,
    parser,
    percentile,
    progress,
    report,
)
from harness import GatewayProcess, RawClient, run_cli
from openclaw.store.db import inspect_database, open_database


def build_database(path: Path, megabytes: int) -> float:
    """A migrated database with transcript rows up to about ``megabytes`` MB; its size."""
    db = open_database(path)
    row = "x" * 900
    db.execute("BEGIN")
    for i in range(megabytes * 1000):
        db.execute("INSERT INTO turns (session_key, role, text, ts) VALUES (?, 'user', ?, ?)",
                   (f"s{i % 50}", row, i))
    db.execute("COMMIT")
    db.close()
    return path.stat().st_size / 1e6


def start_ms(home: Path) -> float:
    """Spawn to ``listening``, in ms, for one start of a gateway on ``home``."""
    gateway = GatewayProcess(home, env=bytecode_vars())
    gateway.start(timeout=60)
    elapsed = (gateway.listening_at - gateway.spawned_at) * 1000
    gateway.stop()
    return elapsed


def main() -> None:
    """Measure and report."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--mb", type=int, default=50, help="database size in MB (default 50)")
    args.add_argument("--starts", type=int, default=5, help="gateway starts per case")
    ns = parse(args, quick={"mb": 2, "starts": 1})
    root = Path(tempfile.mkdtemp(prefix="openclaw-bench-backup-"))
    try:
        home, empty = root / "home", root / "empty"
        state = home / ".openclaw"
        state.mkdir(parents=True, mode=0o700)
        empty.mkdir()
        progress(f"building a {ns.mb} MB database")
        size_mb = build_database(state / "gateway.db", ns.mb)
        checks = []
        for _ in range(5):
            started = time.perf_counter()
            assert inspect_database(state / "gateway.db") is None
            checks.append((time.perf_counter() - started) * 1000)
        check_ms = min(checks)
        progress("gateway starts")
        start_ms(empty)  # unmeasured: the first start creates the state and the token
        start_ms(home)
        start_empty = min(start_ms(empty) for _ in range(ns.starts))
        start_full = min(start_ms(home) for _ in range(ns.starts))

        progress("backup create under a health load")
        gateway = GatewayProcess(home, env=bytecode_vars()).start(timeout=60)
        client = RawClient(gateway.url)
        client.handshake(gateway.token)
        samples: list[tuple[float, float]] = []  # (start time, round trip ms)
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                reply = client.request("health", {})
                assert reply["ok"], reply
                samples.append((started, (time.perf_counter() - started) * 1000))

        thread = threading.Thread(target=load)
        thread.start()
        time.sleep(1.0)  # a baseline of round trips before the backup starts
        began = time.perf_counter()
        made = run_cli("backup", "create", "--json", home=home, env=bytecode_vars())
        ended = time.perf_counter()
        stop.set()
        thread.join()
        client.close()
        assert made.returncode == 0, made.stderr
        archive = Path(json.loads(made.stdout)["path"])
        before = [ms for at, ms in samples if at < began]
        during = [ms for at, ms in samples if began <= at <= ended]
        started = time.perf_counter()
        verified = run_cli("backup", "verify", str(archive), home=home, env=bytecode_vars())
        verify_s = time.perf_counter() - started
        assert verified.returncode == 0, verified.stderr
        gateway.stop()
        started = time.perf_counter()
        restored = run_cli("backup", "restore", str(archive), home=home, env=bytecode_vars())
        restore_s = time.perf_counter() - started
        assert restored.returncode == 0, restored.stderr
        db = sqlite3.connect(state / "gateway.db")
        rows = db.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
        db.close()
        assert rows == ns.mb * 1000, rows
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results = [
        Result("db_mb", "database size", size_mb, "MB"),
        Result("start_check_ms", "start-up check (header + quick_check), best of 5", check_ms,
               "ms", detail={"samples": checks}),
        Result("start_check_ms_per_mb", "  per MB", check_ms / size_mb, "ms"),
        Result("start_empty_ms", "gateway start, empty database (best)", start_empty, "ms"),
        Result("start_full_ms", f"gateway start, {size_mb:.0f} MB database (best)", start_full,
               "ms"),
        Result("backup_s", "backup create while serving (CLI wall time)", ended - began, "s"),
        Result("archive_mb", "archive size", archive_size_mb(made.stdout), "MB"),
        Result("health_p50_before_ms", "health RTT p50 before", percentile(before, 50), "ms"),
        Result("health_p50_during_ms", "health RTT p50 during the backup",
               percentile(during, 50) if during else 0.0, "ms"),
        Result("health_max_during_ms", "health RTT max during the backup",
               max(during) if during else 0.0, "ms", detail={"calls": len(during)}),
        Result("verify_s", "backup verify (CLI wall time)", verify_s, "s"),
        Result("restore_s", "backup restore, gateway stopped (CLI wall time)", restore_s, "s"),
    ]
    report("backup", results, ns.json, notes=[
        "health is called back to back on one connection while `backup create` runs",
        "the check's cost grows with the database; the page cache is warm here"])


def archive_size_mb(stdout: str) -> float:
    """The ``bytes`` of ``backup create --json``, in MB."""
    return float(json.loads(stdout)["bytes"]) / 1e6


if __name__ == "__main__":
    main()
