"""``openclaw gateway`` (run), ``gateway health`` / ``openclaw health``, ``gateway call``."""

from __future__ import annotations

import json
import sys

from openclaw.cli.common import print_json, profile_of, resolve_target, timeout_s, wants_json
from openclaw.errors import OpenClawError, UsageError

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["call", "health", "run"]


def run(ns: argparse.Namespace) -> int:
    """Run the gateway in the foreground until stopped."""
    from openclaw.gateway.runner import RunOptions, run_gateway
    from openclaw.gateway.settings import GatewayFlags

    profile = profile_of(ns)
    flags = GatewayFlags(
        port=ns.port, bind=ns.bind, auth=ns.auth, token=ns.token, password=ns.password,
        allow_unconfigured=ns.allow_unconfigured,
    )
    options = RunOptions(
        force=ns.force, verbose=ns.verbose, log_level=getattr(ns, "log_level", None)
    )
    try:
        return run_gateway(profile, flags, options)
    except OpenClawError as exc:
        from openclaw.gateway.startlog import record_start_failure

        record_start_failure(profile, exc.message)
        raise


def _call(ns: argparse.Namespace, method: str, params: dict[str, Any] | None,
          expect_final: bool = False) -> Any:
    from openclaw.client.sync import call_once

    target = resolve_target(ns)
    return call_once(
        target.url, method, params, token=target.token, password=target.password,
        timeout=timeout_s(ns), expect_final=expect_final,
    )


def _duration(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def health(ns: argparse.Namespace) -> int:
    """Print the health snapshot; non-zero when the gateway cannot be reached."""
    snapshot = _call(ns, "health", {})
    if wants_json(ns):
        print_json(snapshot)
        return 0
    process = snapshot.get("process") or {}
    lines = [
        f"Gateway: ok (pid {process.get('pid')}, up {_duration(int(process.get('uptimeMs', 0)))}, "
        f"rss {int(process.get('rssBytes', 0)) / 1048576:.1f} MB)",
    ]
    beat = snapshot.get("heartbeatSeconds", 0)
    lines.append(f"Heartbeat: {'every ' + str(beat) + 's' if beat else 'off'}")
    channels = snapshot.get("channelOrder") or []
    if not channels:
        lines.append("Channels: none configured")
    for name in channels:
        summary = (snapshot.get("channels") or {}).get(name) or {}
        state = "connected" if summary.get("connected") else "not connected"
        error = f" ({summary['lastError']})" if summary.get("lastError") else ""
        lines.append(f"Channel {name}: {state}{error}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def call(ns: argparse.Namespace) -> int:
    """Call any method and print its payload as JSON."""
    try:
        params = json.loads(ns.params)
    except ValueError as exc:
        raise UsageError(f"--params is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise UsageError("--params must be a JSON object, e.g. '{\"limit\": 50}'")
    result = _call(ns, ns.method, params, expect_final=ns.expect_final)
    print_json(result)
    return 0
