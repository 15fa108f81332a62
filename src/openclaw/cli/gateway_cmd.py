"""``openclaw gateway`` (run), ``gateway health`` / ``openclaw health``, ``gateway call``."""

from __future__ import annotations

import json

from openclaw.cli.common import call_gateway, profile_of, wants_json
from openclaw.cli.render import emit, paint, use_color
from openclaw.errors import OpenClawError, UsageError
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from openclaw.paths import Profile

__all__ = ["CallResult", "HealthResult", "call", "duration", "health", "run"]


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
        _record_failure(profile, exc)
        raise


def _record_failure(profile: Profile, exc: OpenClawError) -> None:
    """Leave the reason of a failed start where ``logs`` and ``gateway status`` find it."""
    from openclaw.errors import PortInUseError
    from openclaw.gateway.startlog import record_start_failure
    from openclaw.runtimeinfo import running_port

    record_start_failure(profile, exc.message, another_gateway=isinstance(exc, PortInUseError)
                         or running_port(profile) is not None)




def duration(ms: int) -> str:
    """A short human duration: ``42s``, ``3m07s``, ``5h02m``."""
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def _when(ms: Any) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return "never"
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


class HealthResult(CommandResult):
    """The ``health`` snapshot: a summary, or with ``verbose`` every part of it."""

    def __init__(self, snapshot: dict[str, Any], verbose: bool = False) -> None:
        self.snapshot = snapshot
        self.verbose = verbose

    def to_json(self) -> Any:
        """The snapshot as the gateway sent it."""
        return self.snapshot

    def to_text(self) -> str:
        """A few lines (``--verbose``: channels with accounts, heartbeat, process, outbox)."""
        color = use_color()
        snapshot = self.snapshot
        process = snapshot.get("process") or {}
        lines = [
            f"Gateway: {paint('ok', 'green', color)} (pid {process.get('pid')}, "
            f"up {duration(int(process.get('uptimeMs', 0)))}, "
            f"rss {int(process.get('rssBytes', 0)) / 1048576:.1f} MB)",
        ]
        beat = snapshot.get("heartbeatSeconds", 0)
        lines.append(f"Heartbeat: {'every ' + str(beat) + 's' if beat else 'off'}")
        if self.verbose:
            lines += self._heartbeats()
        channels = snapshot.get("channelOrder") or []
        if not channels:
            lines.append("Channels: none configured")
        labels = snapshot.get("channelLabels") or {}
        for name in channels:
            summary = (snapshot.get("channels") or {}).get(name) or {}
            state = (paint("connected", "green", color) if summary.get("connected")
                     else paint("not connected", "yellow", color))
            if not self.verbose:
                error = f" ({summary['lastError']})" if summary.get("lastError") else ""
                lines.append(f"Channel {name}: {state}{error}")
                continue
            label = labels.get(name) or name
            lines.append(f"Channel {name} ({label}): {state}, "
                         f"{'running' if summary.get('running') else 'not running'}")
            accounts = summary.get("accounts") or {}
            for account_id, account in accounts.items():
                lines += _account_lines(str(account_id), account or {}, color)
        if self.verbose:
            lines.append(f"Process: pid {process.get('pid')}, up "
                         f"{duration(int(process.get('uptimeMs', 0)))}, rss "
                         f"{int(process.get('rssBytes', 0)) / 1048576:.1f} MB")
            outbox = snapshot.get("outbox") or {}
            counts = ", ".join(f"{state} {count}" for state, count in sorted(outbox.items()))
            lines.append(f"Outbox: {counts or 'no sends yet'}")
            lines.append(f"Snapshot: {_when(snapshot.get('ts'))} "
                         f"(took {snapshot.get('durationMs', 0)} ms)")
        return "\n".join(lines)

    def _heartbeats(self) -> list[str]:
        lines = []
        for entry in self.snapshot.get("agents") or []:
            beat = (entry or {}).get("heartbeat") or {}
            state = f"every {beat.get('every')}" if beat.get("enabled") else "off"
            default = " (default)" if entry.get("isDefault") else ""
            lines.append(f"  agent {entry.get('agentId')}{default}: heartbeat {state}")
        return lines


def _account_lines(account_id: str, account: dict[str, Any], color: bool) -> list[str]:
    state = (paint("connected", "green", color) if account.get("connected")
             else paint("not connected", "yellow", color))
    bot = f" @{account['bot']}" if account.get("bot") else ""
    attempts = account.get("reconnectAttempts")
    retrying = f", reconnect attempts {attempts}" if attempts else ""
    lines = [f"  account {account_id}{bot}: {state}{retrying}"]
    if account.get("lastError"):
        lines.append(f"    last error: {paint(str(account['lastError']), 'red', color)}")
    lines.append(f"    last connected {_when(account.get('lastConnectedAt'))}, "
                 f"last inbound {_when(account.get('lastInboundAt'))}, "
                 f"last outbound {_when(account.get('lastOutboundAt'))}")
    return lines


def health(ns: argparse.Namespace) -> int:
    """Print the health snapshot; non-zero when the gateway cannot be reached."""
    snapshot = call_gateway(ns, "health", {})
    return emit(HealthResult(snapshot, bool(getattr(ns, "verbose", False))), wants_json(ns))


class CallResult(CommandResult):
    """A raw method's payload: always printed as JSON (``null`` included)."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def to_json(self) -> Any:
        """The payload as received."""
        return self.payload

    def to_text(self) -> str:
        """The payload as indented JSON (raw RPC output is data either way)."""
        return json.dumps(self.payload, indent=2, ensure_ascii=False)


def call(ns: argparse.Namespace) -> int:
    """Call any method and print its payload as JSON."""
    try:
        params = json.loads(ns.params)
    except ValueError as exc:
        raise UsageError(f"--params is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise UsageError("--params must be a JSON object, e.g. '{\"limit\": 50}'")
    result = call_gateway(ns, ns.method, params, expect_final=ns.expect_final)
    return emit(CallResult(result), True)
