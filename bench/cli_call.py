"""``openclaw gateway call health`` end to end (target: median of 20 <= 150 ms).

A gateway runs under an isolated HOME; each run spawns the venv's ``openclaw``
console script and times it from just before the spawn to the reaped exit, so the
figure includes interpreter start, imports, connect, handshake, the call and the
JSON output. Two variants, run round-robin:

* ``--url ws://127.0.0.1:PORT --token TOKEN`` (nothing read from disk), and
* no ``--url``: ``OPENCLAW_GATEWAY_PORT`` in the environment and the same HOME as the
  gateway, so the CLI takes the port from the environment and reads the generated
  token from the state dir.

Both run with a warm bytecode cache; a third variant repeats the first with
``PYTHONDONTWRITEBYTECODE=1`` for comparison.
"""

from __future__ import annotations

import json

from _common import (
    Result,
    child_env,
    gateway,
    openclaw_executable,
    parse,
    parser,
    progress,
    report,
    summary,
    time_commands,
)

TARGET_MS = 150.0


def check_health(name: str, stdout: bytes) -> None:
    """Reject a run that did not print a health payload with ``ok: true``."""
    payload = json.loads(stdout)
    if payload.get("ok") is not True:
        raise SystemExit(f"{name}: unexpected health payload: {stdout[:300]!r}")


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=20, help="measured runs per variant")
    ns = parse(args, quick={"runs": 3})
    exe = openclaw_executable()
    with gateway() as gw:
        progress(f"gateway pid {gw.pid} on {gw.url}; {ns.runs} runs per variant")
        url_argv = [exe, "gateway", "call", "health", "--url", gw.url, "--token", gw.token]
        samples = time_commands(
            {
                "url": (url_argv, child_env(gw.home)),
                "env": ([exe, "gateway", "call", "health"],
                        child_env(gw.home, OPENCLAW_GATEWAY_PORT=str(gw.port))),
                "url_nocache": (url_argv, child_env(gw.home, bytecode_cache=False)),
            },
            ns.runs,
            check=check_health,
        )
    wall = {name: summary(data["wall"]) for name, data in samples.items()}
    cpu = {name: summary(data["cpu"]) for name, data in samples.items()}
    results = [
        Result("cli_call_url_ms", f"gateway call health --url --token, median of {ns.runs}",
               wall["url"]["median"], "ms", TARGET_MS, {"wall": wall["url"], "cpu": cpu["url"]}),
        Result("cli_call_url_p90_ms", "  same, p90", wall["url"]["p90"], "ms"),
        Result("cli_call_url_cpu_ms", "  same, child CPU time, median", cpu["url"]["median"],
               "ms"),
        Result("cli_call_env_ms",
               f"gateway call health, port from env, token from state dir, median of {ns.runs}",
               wall["env"]["median"], "ms", TARGET_MS, {"wall": wall["env"], "cpu": cpu["env"]}),
        Result("cli_call_env_p90_ms", "  same, p90", wall["env"]["p90"], "ms"),
        Result("cli_call_url_nocache_ms", "--url --token, no bytecode cache, median",
               wall["url_nocache"]["median"], "ms",
               detail={"wall": wall["url_nocache"], "cpu": cpu["url_nocache"]}),
    ]
    report("cli_call", results, ns.json, notes=[
        "wall time from just before subprocess spawn to reaped exit; the gateway is idle",
        "bytecode cached under PYTHONPYCACHEPREFIX (outside the source tree) unless noted",
    ])


if __name__ == "__main__":
    main()
