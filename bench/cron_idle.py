"""Idle cost of scheduled jobs: gateway CPU with 1,000 jobs vs none (target: no
measurable difference).

Two gateways (heartbeat off, no channels) are measured over the same ``--window``
seconds, alternating, ``--rounds`` times: one with no jobs, one with ``--jobs`` jobs
added over the wire (a mix of hourly/daily cron expressions in several time zones,
``every`` intervals of at least an hour and one-time ``at`` jobs a day ahead, so none
is due during the window). Reported: gateway CPU per minute idle for each, and the
difference. The scheduler sleeps until the next due slot (capped at a minute), so
the difference should be within the noise of the gateway's own timers.
"""

from __future__ import annotations

import time
from typing import Any

from _common import Result, cpu_seconds, gateway, parse, parser, progress, report
from harness import RawClient
from openclaw.clock import now_ms

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


def job(index: int) -> dict[str, Any]:
    """A job that is not due within the next hour."""
    kind = index % 3
    if kind == 0:
        schedule = {"kind": "cron", "expr": f"{index % 60} {index % 24} * * *",
                    "tz": ZONES[index % len(ZONES)]}
    elif kind == 1:
        schedule = {"kind": "every", "everyMs": 3_600_000 * (1 + index % 24)}
    else:
        schedule = {"kind": "at", "atMs": now_ms() + 86_400_000 + index * 1000}
    return {"id": f"job{index}", "schedule": schedule,
            "payload": {"message": f"job {index}"}}


def main() -> None:
    """Measure and report."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--jobs", type=int, default=1000)
    args.add_argument("--window", type=float, default=20.0, help="seconds per measurement")
    args.add_argument("--rounds", type=int, default=3)
    ns = parse(args, quick={"jobs": 50, "window": 1.0, "rounds": 1})
    config = {"agents": {"defaults": {"heartbeat": {"every": "0"}}}}
    with gateway(config=config) as empty, gateway(config=config) as loaded:
        client = RawClient(loaded.url)
        client.handshake(loaded.token)
        progress(f"adding {ns.jobs} jobs")
        for index in range(ns.jobs):
            reply = client.request("cron.add", job(index))
            assert reply["ok"], reply
        status = client.request("cron.status", {})["payload"]
        assert status["jobs"] == ns.jobs and status["nextWakeAtMs"] > now_ms() + 59_000, status
        client.close()
        time.sleep(1.0)  # let both settle after start and the adds
        per_minute: dict[str, list[float]] = {"empty": [], "loaded": []}
        for round_index in range(ns.rounds):
            progress(f"round {round_index + 1}/{ns.rounds}: {ns.window:g}s idle")
            before = {"empty": cpu_seconds(empty.pid), "loaded": cpu_seconds(loaded.pid)}
            time.sleep(ns.window)
            for name, process in (("empty", empty), ("loaded", loaded)):
                used = cpu_seconds(process.pid) - before[name]
                per_minute[name].append(used * 1000 * 60 / ns.window)
    empty_ms = min(per_minute["empty"])
    loaded_ms = min(per_minute["loaded"])
    results = [
        Result("idle_cpu_no_jobs", "gateway CPU idle, no jobs (best round)", empty_ms,
               "ms/min"),
        Result("idle_cpu_1000_jobs", f"gateway CPU idle, {ns.jobs} jobs (best round)",
               loaded_ms, "ms/min"),
        Result("idle_cpu_difference", f"difference ({ns.jobs} jobs - none)",
               loaded_ms - empty_ms, "ms/min", target=10.0,
               detail={"rounds": per_minute}),
    ]
    report("cron_idle", results, ns.json,
           notes=["CPU is utime+stime of the gateway process from /proc, over each window"])


if __name__ == "__main__":
    main()
