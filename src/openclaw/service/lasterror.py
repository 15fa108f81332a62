"""The last error the gateway wrote to its file log, for ``status`` and ``restart``.

journald may be absent (containers, test machines) and launchd has none, so the
gateway's own JSON-lines file log is the one place every start failure is recorded
(:mod:`openclaw.gateway.startlog`). Only the tail of the newest files is read.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["last_error"]

_TAIL_BYTES = 65_536
_ERROR_LEVELS = ("error", "fatal")


def _newest_logs(log_dir: Path, count: int = 2) -> list[Path]:
    try:
        files = [p for p in log_dir.glob("openclaw-*.log") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)[:count]


def last_error(log_dir: Path, *, since_ms: int | None = None) -> dict[str, str] | None:
    """``{time, message, file}`` of the newest error/fatal record, or None.

    ``since_ms`` (epoch milliseconds) ignores records older than that moment, so a
    restart reports only what went wrong in this attempt.
    """
    for path in _newest_logs(log_dir):
        try:
            with path.open("rb") as stream:
                stream.seek(0, 2)
                size = stream.tell()
                stream.seek(max(0, size - _TAIL_BYTES))
                lines = stream.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or record.get("level") not in _ERROR_LEVELS:
                continue
            when = str(record.get("time", ""))
            if since_ms is not None and when and _epoch_ms(when) < since_ms:
                return None
            return {"time": when, "message": str(record.get("message", "")), "file": str(path)}
    return None


def _epoch_ms(iso: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0
