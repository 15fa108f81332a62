"""``openclaw --version`` wall time (target: median of 20 runs <= 60 ms).

Each run spawns the venv's ``openclaw`` console script with :mod:`subprocess` and
times it with :func:`time.perf_counter` from just before the spawn to the reaped
exit. The main figure runs with a warm bytecode cache (how an installed CLI runs);
for scale the script also times the same command with ``PYTHONDONTWRITEBYTECODE=1``
(the editable install's modules compiled on every start), a bare interpreter start
(``python -c pass``) and one without ``site`` (``python -S -c pass``). Variants are
run round-robin so background load affects them alike; child CPU time is reported
next to wall time.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import (
    Result,
    child_env,
    openclaw_executable,
    parse,
    parser,
    progress,
    report,
    summary,
    time_commands,
)

TARGET_MS = 60.0


def check_version(name: str, stdout: bytes) -> None:
    """Reject a run of ``openclaw --version`` that did not print the version."""
    if name.startswith("version") and not stdout.startswith(b"openclaw "):
        raise SystemExit(f"unexpected --version output: {stdout[:200]!r}")


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=20, help="measured runs (default 20)")
    ns = parse(args, quick={"runs": 3})
    exe = openclaw_executable()
    with tempfile.TemporaryDirectory(prefix="openclaw-bench-") as home:
        cached = child_env(Path(home))
        uncached = child_env(Path(home), bytecode_cache=False)
        progress(f"timing {exe} --version x{ns.runs} (and reference commands)")
        samples = time_commands(
            {
                "version": ([exe, "--version"], cached),
                "version_nocache": ([exe, "--version"], uncached),
                "python": ([sys.executable, "-c", "pass"], cached),
                "python_nosite": ([sys.executable, "-S", "-c", "pass"], cached),
            },
            ns.runs,
            check=check_version,
        )
    wall = {name: summary(data["wall"]) for name, data in samples.items()}
    cpu = {name: summary(data["cpu"]) for name, data in samples.items()}
    results = [
        Result("cli_version_ms", f"openclaw --version, median of {ns.runs}",
               wall["version"]["median"], "ms", TARGET_MS,
               {"wall": wall["version"], "cpu": cpu["version"]}),
        Result("cli_version_p90_ms", "  same, p90", wall["version"]["p90"], "ms"),
        Result("cli_version_cpu_ms", "  same, child CPU time, median", cpu["version"]["median"],
               "ms"),
        Result("cli_version_nocache_ms", "  same, no bytecode cache, median",
               wall["version_nocache"]["median"], "ms",
               detail={"wall": wall["version_nocache"], "cpu": cpu["version_nocache"]}),
        Result("python_bare_ms", "reference: python -c pass, median", wall["python"]["median"],
               "ms", detail={"wall": wall["python"], "cpu": cpu["python"]}),
        Result("python_nosite_ms", "reference: python -S -c pass, median",
               wall["python_nosite"]["median"], "ms",
               detail={"wall": wall["python_nosite"], "cpu": cpu["python_nosite"]}),
    ]
    report("cli_version", results, ns.json, notes=[
        "wall time from just before subprocess spawn to reaped exit (time.perf_counter)",
        "bytecode cached under PYTHONPYCACHEPREFIX (outside the source tree) unless noted",
    ])


if __name__ == "__main__":
    main()
