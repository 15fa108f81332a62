"""Run every benchmark in turn and print one combined table.

Each script runs as its own process (``python bench/<name>.py --json``), one after
another so they do not disturb each other; their JSON documents are merged. The
table shows the rows that have a target, or every row with ``--all``; ``--json``
prints the merged document and ``--save PATH`` also writes it to a file.
``--quick`` runs every script in its quick mode (a check that they work).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    fmt,
    machine_info,
    parse,
    parser,
    progress,
    table,
    target_text,
    verdict,
    wait_for_quiet,
)

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "cli_version",
    "cli_call",
    "startup",
    "health_rtt",
    "many_clients",
    "presence_broadcast",
    "presence_storm",
    "send",
    "agent",
    "chat",
    "tools",
    "service",
]
TIMEOUT_S = 300


def run_script(name: str, quick: bool) -> dict[str, Any]:
    """Run ``bench/<name>.py --json`` (``--quick`` too when asked); return its document
    (or an error record)."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), "--json", *(["--quick"] if quick else [])],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        return {"script": name, "error": f"timed out after {TIMEOUT_S} s", "results": []}
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        return {"script": name, "error": f"exit {proc.returncode}: {proc.stderr[-2000:]}",
                "results": [], "seconds": elapsed}
    document: dict[str, Any] = json.loads(proc.stdout)
    document["seconds"] = elapsed
    return document


def main() -> None:
    """Run the selected benchmarks and print the combined results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--all", action="store_true", help="show every row, not only targets")
    args.add_argument("--only", default="", help="comma-separated subset of: "
                      + ", ".join(SCRIPTS))
    args.add_argument("--save", type=Path, help="also write the merged JSON to this file")
    args.add_argument("--quiet-wait", type=float, default=15.0, metavar="S",
                      help="before each script, wait up to S seconds for the machine to be "
                      "at most 25%% busy (default 15; 0 to skip)")
    ns = parse(args, quick={"quiet_wait": 0.0})
    chosen = [s.strip() for s in ns.only.split(",") if s.strip()] or SCRIPTS
    unknown = sorted(set(chosen) - set(SCRIPTS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}")
    documents = []
    for name in chosen:
        busy = wait_for_quiet(ns.quiet_wait) if ns.quiet_wait > 0 else None
        progress(f"running {name} ..." + ("" if busy is None else
                                          f" (machine {busy:.0%} busy just before)"))
        document = run_script(name, ns.quick)
        document["machineBusyBefore"] = busy
        progress(f"{name}: {document.get('seconds', 0):.1f} s"
                 + (f" ERROR {document['error']}" if "error" in document else ""))
        documents.append(document)
    merged = {"machine": machine_info(), "scripts": documents}
    if ns.save:
        ns.save.parent.mkdir(parents=True, exist_ok=True)
        ns.save.write_text(json.dumps(merged, indent=2) + "\n")
    if ns.json:
        sys.stdout.write(json.dumps(merged, indent=2) + "\n")
        return
    rows = []
    busy_notes = []
    for document in documents:
        if document.get("machineBusyBefore") is not None:
            busy_notes.append(f"{document['script']} {document['machineBusyBefore']:.0%}")
        if "error" in document:
            rows.append([document["script"], "ERROR: " + document["error"].splitlines()[0][:60],
                         "-", "-", "-"])
        if "skipped" in document:
            rows.append([document["script"], "SKIPPED: " + document["skipped"][:60],
                         "-", "-", "-"])
        for row in document["results"]:
            if row["target"] is None and not ns.all:
                continue
            target = target_text(row["target"], row["unit"], row.get("at_least", False))
            rows.append([document["script"], row["label"], fmt(row["value"], row["unit"]),
                         target, verdict(row["met"])])
    machine = merged["machine"]
    sys.stdout.write(
        f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
        f"websockets {machine['websockets']}, load average {machine['loadavg']}\n"
        f"openclaw {machine['openclaw']} source digest {machine['sourceDigest']}, "
        f"{machine['time']}\n"
    )
    sys.stdout.write(table(rows, ["script", "metric", "value", "target", "verdict"]) + "\n")
    if busy_notes:
        sys.stdout.write("machine busy just before each script: " + ", ".join(busy_notes) + "\n")
    digests = {d["machine"]["sourceDigest"] for d in documents if "machine" in d}
    if len(digests) > 1:
        sys.stdout.write(f"warning: the openclaw sources changed during the run: {digests}\n")
    failed = [d["script"] for d in documents if "error" in d]
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
