"""Service commands on a real systemd user manager (targets: status 250 ms, install/restart 2 s).

A real ``systemd --user`` runs as an ordinary process with its own HOME and
``XDG_RUNTIME_DIR``, started exactly as the test suite starts it
(``UserManager`` from ``tests/systemd_harness.py``: marker dir
``/run/systemd/system``, readiness from ``READY=1`` on ``NOTIFY_SOCKET``). Every
command is the venv's ``openclaw`` console script (or ``systemctl --user``) spawned
with the manager's environment, timed from just before the spawn to the reaped exit:

* ``gateway status --json`` with the service installed and running, median of 20
  (target <= 250 ms); each run's ``summary.health`` must be ``healthy``. Run
  round-robin with ``gateway status --json --no-probe`` and ``systemctl --user show
  UNIT`` for context.
* ``gateway install --port N --json`` on a fresh profile each run (uninstalled
  afterwards), which returns once a new pid answers ``health``; median of 5
  (target <= 2 s), with the command's own ``elapsedMs`` (start call -> health
  answered).
* ``gateway restart --json``, median of 10 (target <= 2 s), with ``elapsedMs``.

The manager passes its environment on to the services it starts, so the gateways
use the same bytecode cache as the CLI (``PYTHONPYCACHEPREFIX``, see ``_common``).
Everything installed is uninstalled and the manager told to exit in the end. Where
no user manager can run (no systemd, or no ``/run/systemd/system`` and no root to
create it) the script reports itself skipped, with the reason, and exits 0.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    Result,
    bytecode_vars,
    openclaw_executable,
    parse,
    parser,
    progress,
    report,
    run_timed,
    summary,
    time_commands,
)
from harness import free_port, run_cli
from systemd_harness import UserManager, skip_reason

STATUS_TARGET_MS = 250.0
INSTALL_TARGET_MS = 2000.0
RESTART_TARGET_MS = 2000.0
PROFILE = "bench"


class BenchManager(UserManager):
    """The test suite's user manager, with the benchmarks' bytecode cache in its env."""

    def variables(self, **extra: str | None) -> dict[str, str | None]:
        """The manager's variables (XDG_RUNTIME_DIR, ...), bytecode cached."""
        return super().variables(**{**bytecode_vars(), **extra})


def unit_name(profile: str) -> str:
    """The systemd user unit of ``profile``."""
    return f"openclaw-gateway-{profile}.service"


def parse_json(what: str, stdout: bytes) -> dict[str, Any]:
    """Parse a command's JSON output, or stop with what it printed."""
    try:
        data: dict[str, Any] = json.loads(stdout)
    except ValueError:
        raise SystemExit(f"{what}: not JSON: {stdout[:300]!r}") from None
    return data


def check_status(name: str, stdout: bytes) -> None:
    """Reject a status run that is not healthy, or a ``systemctl show`` that is not active."""
    if name == "systemctl_show":
        if b"ActiveState=active" not in stdout:
            raise SystemExit(f"{name}: unit not active: {stdout[:300]!r}")
        return
    data = parse_json(name, stdout)
    if (data.get("summary") or {}).get("health") != "healthy":
        raise SystemExit(f"{name}: not healthy: {data.get('summary')!r}")
    if name == "status" and (data.get("rpc") or {}).get("ok") is not True:
        raise SystemExit(f"{name}: RPC probe failed: {data.get('rpc')!r}")


def main_pid(manager: UserManager, profile: str) -> int:
    """The unit's MainPID as the manager reports it."""
    return int(manager.show(unit_name(profile)).get("MainPID") or 0)


def install(manager: BenchManager, exe: str, profile: str) -> tuple[float, float, dict[str, Any]]:
    """Time ``gateway install`` of ``profile`` on a free port; check the manager agrees."""
    argv = [exe, "--profile", profile, "gateway", "install", "--port", str(free_port()), "--json"]
    wall, cpu, stdout = run_timed(argv, manager.env())
    data = parse_json("install", stdout)
    if data.get("action") != "installed" or not data.get("pid"):
        raise SystemExit(f"install {profile}: unexpected result: {data!r:.400}")
    if main_pid(manager, profile) != data["pid"]:
        raise SystemExit(f"install {profile}: pid {data['pid']} is not the unit's MainPID")
    return wall, cpu, data


def uninstall(manager: BenchManager, profile: str) -> None:
    """``gateway uninstall`` of ``profile`` (untimed); stop if it did not remove the unit."""
    proc = run_cli("--profile", profile, "gateway", "uninstall", "--json", home=manager.home,
                   env=manager.variables(), timeout=120)
    if (proc.returncode != 0
            or parse_json("uninstall", proc.stdout.encode()).get("action") != "removed"):
        raise SystemExit(f"uninstall {profile} failed: {proc.stdout[:300]!r} "
                         f"{proc.stderr[:300]!r}")


def measure(manager: BenchManager, exe: str, ns: Any,
            installed: set[str]) -> tuple[list[Result], list[str]]:
    """Run the three measurements against ``manager``; return the rows and notes."""
    installed.add(PROFILE)
    wall, _, data = install(manager, exe, PROFILE)
    progress(f"{unit_name(PROFILE)} installed (pid {data['pid']}, {wall:.0f} ms, unmeasured); "
             f"status: {ns.runs} runs per variant")

    base = [exe, "--profile", PROFILE, "gateway", "status", "--json"]
    env = manager.env()
    samples = time_commands(
        {
            "status": (base, env),
            "status_noprobe": ([*base, "--no-probe"], env),
            "systemctl_show": (["systemctl", "--user", "show", unit_name(PROFILE)], env),
        },
        ns.runs,
        check=check_status,
    )
    status = {name: summary(data["wall"]) for name, data in samples.items()}
    status_cpu = {name: summary(data["cpu"]) for name, data in samples.items()}

    progress(f"restart: {ns.restart_runs} runs (+1 warm-up)")
    restart_wall: list[float] = []
    restart_cpu: list[float] = []
    restart_elapsed: list[float] = []
    for index in range(ns.restart_runs + 1):
        before = main_pid(manager, PROFILE)
        wall, cpu, stdout = run_timed([exe, "--profile", PROFILE, "gateway", "restart", "--json"],
                                      env)
        data = parse_json("restart", stdout)
        if data.get("previousPid") != before or data.get("pid") in (None, before):
            raise SystemExit(f"restart: no new pid (before {before}): {data!r:.400}")
        if main_pid(manager, PROFILE) != data["pid"]:
            raise SystemExit(f"restart: pid {data['pid']} is not the unit's MainPID")
        if index:
            restart_wall.append(wall)
            restart_cpu.append(cpu)
            restart_elapsed.append(float(data["elapsedMs"]))

    progress(f"install: {ns.install_runs} fresh profiles (+1 warm-up)")
    install_wall: list[float] = []
    install_cpu: list[float] = []
    install_elapsed: list[float] = []
    for index in range(ns.install_runs + 1):
        profile = f"{PROFILE}-install-{index}"
        installed.add(profile)
        wall, cpu, data = install(manager, exe, profile)
        uninstall(manager, profile)
        installed.discard(profile)
        if index:
            install_wall.append(wall)
            install_cpu.append(cpu)
            install_elapsed.append(float(data["elapsedMs"]))

    inst = summary(install_wall)
    inst_elapsed = summary(install_elapsed)
    rest = summary(restart_wall)
    rest_elapsed = summary(restart_elapsed)
    results = [
        Result("service_status_ms",
               f"gateway status --json, service running and healthy, median of {ns.runs}",
               status["status"]["median"], "ms", STATUS_TARGET_MS,
               {"wall": status["status"], "cpu": status_cpu["status"]}),
        Result("service_status_p90_ms", "  same, p90", status["status"]["p90"], "ms"),
        Result("service_status_cpu_ms", "  same, child CPU time, median",
               status_cpu["status"]["median"], "ms"),
        Result("service_install_ms",
               f"gateway install -> healthy (fresh profile), median of {ns.install_runs}",
               inst["median"], "ms", INSTALL_TARGET_MS,
               {"wall": inst, "cpu": summary(install_cpu), "elapsedMs": inst_elapsed}),
        Result("service_install_elapsed_ms", "  same, its elapsedMs (start -> health answered)",
               inst_elapsed["median"], "ms"),
        Result("service_install_max_ms", "  same, slowest", inst["max"], "ms"),
        Result("service_restart_ms", f"gateway restart -> healthy, median of {ns.restart_runs}",
               rest["median"], "ms", RESTART_TARGET_MS,
               {"wall": rest, "cpu": summary(restart_cpu), "elapsedMs": rest_elapsed}),
        Result("service_restart_elapsed_ms", "  same, its elapsedMs (start -> health answered)",
               rest_elapsed["median"], "ms"),
        Result("service_restart_max_ms", "  same, slowest", rest["max"], "ms"),
        Result("service_status_noprobe_ms", f"gateway status --json --no-probe, median of "
               f"{ns.runs}", status["status_noprobe"]["median"], "ms",
               detail={"wall": status["status_noprobe"], "cpu": status_cpu["status_noprobe"]}),
        Result("service_systemctl_show_ms", f"systemctl --user show UNIT, median of {ns.runs}",
               status["systemctl_show"]["median"], "ms",
               detail={"wall": status["systemctl_show"], "cpu": status_cpu["systemctl_show"]}),
    ]
    version = subprocess.run(["systemctl", "--version"], capture_output=True, text=True,
                             check=False).stdout.splitlines()
    notes = [
        "wall time from just before subprocess spawn to reaped exit, env = the manager's "
        "(HOME, XDG_RUNTIME_DIR)",
        f"real systemd --user ({version[0] if version else 'version unknown'}), "
        "started as an ordinary process; no D-Bus, no journald",
        "install/restart return only after a new pid answers health; elapsedMs is the "
        "command's own figure",
        "bytecode cached under PYTHONPYCACHEPREFIX (CLI and services)",
    ]
    return results, notes


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=20, help="measured status runs per variant")
    args.add_argument("--install-runs", type=int, default=5, help="measured fresh installs")
    args.add_argument("--restart-runs", type=int, default=10, help="measured restarts")
    ns = parse(args, quick={"runs": 2, "install_runs": 1, "restart_runs": 1})
    reason = skip_reason()
    if reason:
        progress(f"skipped: no systemd user manager here ({reason})")
        report("service", [], ns.json, notes=[f"skipped: {reason}"], extra={"skipped": reason})
        return
    exe = openclaw_executable()
    root = Path(tempfile.mkdtemp(prefix="openclaw-bench-systemd-"))
    manager = BenchManager(root)
    installed: set[str] = set()
    try:
        manager.start()
        assert manager.process is not None
        progress(f"systemd --user pid {manager.process.pid}, HOME {manager.home}")
        results, notes = measure(manager, exe, ns, installed)
    finally:
        if manager.process is not None:
            for profile in sorted(installed):
                with contextlib.suppress(SystemExit, subprocess.SubprocessError):
                    uninstall(manager, profile)
        manager.stop()
        shutil.rmtree(root, ignore_errors=True)
    report("service", results, ns.json, notes=notes)


if __name__ == "__main__":
    main()
