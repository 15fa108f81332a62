"""``openclaw logs``: print the gateway's file log through ``logs.tail``.

``--follow`` polls with the returned cursor, says so when the file was rotated or
lines were skipped, and survives gateway restarts by reconnecting with backoff.
When this profile's gateway cannot be reached at all (it is not running, or it
refused to start), the profile's file log is read directly instead, so the reason
it is down can still be seen. ``logs`` is a streaming command: records are printed
as they are read (text, ``--plain`` or JSON lines); failures go through the CLI's
error boundary like every other command's.
"""

from __future__ import annotations

import calendar
import json
import os
import sys
import time

from openclaw.cli.common import resolve_target, timeout_s, wants_json
from openclaw.errors import GatewayUnreachable, UsageError

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any

    from openclaw.cli.common import Target
    from openclaw.client.sync import GatewayClient

__all__ = ["format_line", "logs", "plain_line"]


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _entry(line: str) -> dict[str, Any] | None:
    """One JSON log line as a record, or None when it is not one."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def format_line(line: str, utc: bool = False) -> str:
    """Render one JSON log line for humans; other lines pass through unchanged."""
    entry = _entry(line)
    if entry is None:
        return line
    stamp = str(entry.get("time", ""))
    if not utc and stamp.endswith("Z"):
        try:
            parsed = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
            local = time.localtime(calendar.timegm(parsed))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", local)
        except ValueError:
            pass
    extras = {k: v for k, v in entry.items()
              if k not in ("time", "level", "subsystem", "message", "pid")}
    text = (f"{stamp} {entry.get('level', '')!s:<5} {entry.get('subsystem', '')}: "
            f"{entry.get('message', '')}")
    if extras:
        text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
    return text


def plain_line(line: str) -> str:
    """Just the message of one JSON log line (for piping); other lines unchanged."""
    entry = _entry(line)
    return line if entry is None else str(entry.get("message", ""))


class _Printer:
    def __init__(self, as_json: bool, utc: bool, plain: bool = False) -> None:
        self.as_json = as_json
        self.utc = utc
        self.plain = plain
        self.source = "gateway"

    def meta(self, result: dict[str, Any]) -> None:
        if self.as_json:
            _emit({"type": "meta", "file": result.get("file"), "cursor": result.get("cursor"),
                   "size": result.get("size"), "source": self.source})

    def notice(self, message: str) -> None:
        if self.as_json:
            _emit({"type": "notice", "message": message})
        else:
            sys.stderr.write(f"openclaw logs: {message}\n")

    def lines(self, lines: list[str]) -> None:
        for line in lines:
            if self.as_json:
                try:
                    _emit({"type": "log", "entry": json.loads(line)})
                except ValueError:
                    _emit({"type": "raw", "line": line})
            elif self.plain:
                sys.stdout.write(plain_line(line) + "\n")
            else:
                sys.stdout.write(format_line(line, self.utc) + "\n")
        sys.stdout.flush()


class _Reader:
    """Cursor state of one ``openclaw logs`` run.

    After a reconnect the cursor may belong to a file the restarted gateway has
    since rotated away, so the first read after a reconnect starts from the end
    of the current file instead and skips what was already printed, found by its
    last printed line.
    """

    def __init__(self, ns: argparse.Namespace, printer: _Printer) -> None:
        self.ns = ns
        self.printer = printer
        self.cursor: int | None = None
        self.file: str | None = None
        self.last_line: str | None = None
        self.resync = False

    def poll(self, client: GatewayClient, timeout: float) -> None:
        """One ``logs.tail`` call; prints new lines and notices."""
        resync = self.resync and self.last_line is not None
        fresh = self.cursor is None or resync
        # --limit shapes the first screen; while following, every new line counts.
        params: dict[str, Any] = {"limit": self.ns.limit if self.cursor is None else 5000,
                                  "maxBytes": self.ns.max_bytes}
        if not fresh:
            params["cursor"] = self.cursor
        result = client.call("logs.tail", params, timeout=timeout)
        lines = list(result.get("lines") or [])
        if resync:
            lines = self._after_last_printed(lines)
        elif self.file is not None and result.get("file") != self.file:
            self.printer.notice(f"the gateway now writes {result.get('file')}")
        elif self.cursor is not None and result.get("reset"):
            self.printer.notice("log file was rotated or truncated")
        if self.cursor is not None and not fresh and result.get("truncated"):
            self.printer.notice("some lines were skipped (the log outran this reader)")
        if self.file is None:
            self.printer.meta(result)
        self.file = result.get("file")
        self.printer.lines(lines)
        if lines:
            self.last_line = lines[-1]
        self.cursor = int(result.get("cursor", 0))
        self.resync = False

    def _after_last_printed(self, lines: list[str]) -> list[str]:
        for index in range(len(lines) - 1, -1, -1):
            if lines[index] == self.last_line:
                return lines[index + 1 :]
        self.printer.notice("the log was rotated while disconnected; lines written "
                            "meanwhile may be in an archived file")
        return lines


def logs(ns: argparse.Namespace) -> int:
    """Show the last lines, and with ``--follow`` keep showing new ones."""
    from openclaw.backoff import Backoff
    from openclaw.client.sync import GatewayClient

    if not 1 <= ns.limit <= 5000:
        raise UsageError("--limit must be between 1 and 5000")
    if not 1 <= ns.max_bytes <= 1_000_000:
        raise UsageError("--max-bytes must be between 1 and 1000000")
    if ns.plain and wants_json(ns):
        raise UsageError("--plain and --json cannot be combined")
    target = resolve_target(ns)
    printer = _Printer(wants_json(ns), ns.utc, ns.plain)
    reader = _Reader(ns, printer)
    timeout = timeout_s(ns)
    client: GatewayClient | None = None
    backoff: Backoff | None = None  # set while reconnecting
    try:
        while True:
            try:
                if client is None:
                    client = GatewayClient(target.url, token=target.token,
                                           password=target.password, timeout=timeout)
                    client.connect()
                    if backoff is not None:
                        printer.notice(f"reconnected to {target.url}")
                        reader.resync = True
                        backoff = None
                reader.poll(client, timeout)
                if not ns.follow:
                    return 0
                time.sleep(max(0.05, ns.interval / 1000))  # poll interval of --follow
            except GatewayUnreachable as exc:
                if client is not None:
                    client.close()
                client = None
                if reader.cursor is None and _is_local(target):
                    return _local(ns, printer, exc)
                if not ns.follow:
                    raise
                if backoff is None:
                    backoff = Backoff(base=0.5, cap=10.0)
                delay = backoff.next()
                printer.notice(f"{exc.message}; retrying in {delay:.1f}s")
                time.sleep(delay)  # reconnect backoff
    except KeyboardInterrupt:
        return 0
    finally:
        if client is not None:
            client.close()


def _is_local(target: Target) -> bool:
    """True when the target is this profile's own gateway, whose file log is here.

    An explicit ``--url`` or ``OPENCLAW_GATEWAY_URL`` may name another machine: its
    log is not ours to read.
    """
    import os

    return not target.explicit and not os.environ.get("OPENCLAW_GATEWAY_URL")


def _newest_log(directory: Path) -> Path | None:
    """The newest day's file the gateway writes (``openclaw-YYYY-MM-DD.log``)."""
    import re

    day_file = re.compile(r"^openclaw-\d{4}-\d{2}-\d{2}\.log$")  # not the .N.log archives
    try:
        names = [name for name in os.listdir(directory) if day_file.match(name)]
    except OSError:
        return None
    return directory / max(names) if names else None


def _local(ns: argparse.Namespace, printer: _Printer, unreachable: GatewayUnreachable) -> int:
    """Read the profile's file log directly: the gateway is not there to serve it."""
    from openclaw.cli.common import display_path, profile_of
    from openclaw.logs import tail
    from openclaw.service.lasterror import log_dir_of

    directory = log_dir_of(profile_of(ns))
    path = _newest_log(directory)
    if path is None and not ns.follow:
        unreachable.hint = f"no local file log in {display_path(directory)} either"
        raise unreachable
    where = display_path(path or directory)
    sys.stderr.write(f"openclaw logs: {unreachable.message}; reading the local file log "
                     f"{where} instead\n")
    sys.stderr.flush()
    printer.source = "local"
    cursor: int | None = None
    first = True
    while True:
        if path is not None:
            result = tail(path, cursor, ns.limit if cursor is None else 5000, ns.max_bytes)
            if cursor is not None and result.reset:
                printer.notice("log file was rotated or truncated")
            elif cursor is not None and result.truncated:
                printer.notice("some lines were skipped (the log outran this reader)")
            if first:
                printer.meta(result.to_wire())
                first = False
            printer.lines(result.lines)
            cursor = result.cursor
        if not ns.follow:
            return 0
        time.sleep(max(0.05, ns.interval / 1000))  # poll interval of --follow
        newer = _newest_log(directory)
        if newer is not None and newer != path:
            if path is not None:  # a new day: finish the old file first
                printer.lines(tail(path, cursor, 5000, ns.max_bytes).lines)
            printer.notice(f"the gateway now writes {newer}")
            path, cursor = newer, 0
