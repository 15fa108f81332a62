"""What a WhatsApp account adds: start time and idle RSS, with the real neonize client.

Alternating restarts of a gateway without config and one with a linked-looking
WhatsApp account (an empty credentials store, so neonize loads and tries to
connect; with no network it reports the account unreachable). Start time is spawn
→ the ``listening`` line; the client loads after that, in the background, so its
cost is measured separately as spawn → the account's first connect outcome.
Idle RSS is read once that outcome is logged and ``--idle`` seconds have passed.

    .venv/bin/python bench/whatsapp.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import memory_mb
from harness import GatewayProcess

OUTCOME = r"whatsapp/default: (cannot reach WhatsApp|connected)"


def one(with_whatsapp: bool, idle_s: float) -> tuple[float, float | None, float]:
    """``(start ms, client loaded ms or None, idle RSS MB)``."""
    with tempfile.TemporaryDirectory() as home:
        gw = GatewayProcess(Path(home), config={"channels": {"whatsapp": {}}}
                            if with_whatsapp else None)
        if with_whatsapp:
            creds = gw.state_dir / "credentials" / "whatsapp" / "default"
            creds.mkdir(parents=True, mode=0o700)
            (creds / "creds.db").touch(mode=0o600)
        gw.start(timeout=60)
        try:
            start_ms = (gw.listening_at - gw.spawned_at) * 1000
            loaded_ms = None
            if with_whatsapp:
                gw.wait_for_line(OUTCOME, timeout=60)
                loaded_ms = (gw.arrivals[-1] - gw.spawned_at) * 1000
            time.sleep(idle_s)
            return start_ms, loaded_ms, memory_mb(gw.pid)["VmRSS"]
        finally:
            gw.stop(timeout=30)


def main() -> None:
    """Print the medians."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--runs", type=int, default=5)
    args.add_argument("--idle", type=float, default=3.0)
    ns = args.parse_args()
    rows: dict[bool, list[tuple[float, float | None, float]]] = {False: [], True: []}
    for _ in range(ns.runs):
        for flag in (False, True):
            rows[flag].append(one(flag, ns.idle))
    for flag, label in ((False, "no config"), (True, "WhatsApp account")):
        starts = [r[0] for r in rows[flag]]
        rss = [r[2] for r in rows[flag]]
        line = (f"{label:17s} start→listening median {statistics.median(starts):.0f} ms, "
                f"idle RSS median {statistics.median(rss):.1f} MB")
        loaded = [r[1] for r in rows[flag] if r[1] is not None]
        if loaded:
            line += f", spawn→first connect outcome median {statistics.median(loaded):.0f} ms"
        print(line)


if __name__ == "__main__":
    main()
