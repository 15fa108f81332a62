"""The last error the gateway wrote to its file log, for ``status`` and ``restart``.

journald may be absent (containers, test machines) and launchd has none, so the
gateway's own JSON-lines file log is the one place every start failure is recorded
(:mod:`openclaw.gateway.startlog`). Only the tail of the newest files is read.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openclaw.configfile import LenientConfig
    from openclaw.paths import Profile

__all__ = ["last_error", "log_dir_of"]

_TAIL_BYTES = 65_536
_ERROR_LEVELS = ("error", "fatal")


def log_dir_of(profile: Profile, config: LenientConfig | None = None) -> Path:
    """Where this profile's gateway writes its file log (``logging.dir``, read leniently).

    ``config`` is the config already read, if the caller has it.
    """
    from openclaw.configfile import read_lenient

    return (config or read_lenient(profile.config_path)).log_dir(profile.log_dir)


def _newest_logs(log_dir: Path, count: int = 2) -> list[Path]:
    try:
        files = [p for p in log_dir.glob("openclaw-*.log") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)[:count]


def last_error(log_dir: Path, *, since_ms: int | None = None) -> dict[str, str] | None:
    """``{time, message, file}`` of the newest error, or None.

    The newest error/fatal record of the JSON file logs, unless launchd's captured
    stderr (``gateway.err.log``, where a crash before logging starts ends up) is
    newer. ``since_ms`` (epoch milliseconds) ignores anything older than that
    moment, so a restart reports only what went wrong in this attempt.
    """
    found = _newest_record(log_dir, since_ms)
    stderr = _stderr_tail(log_dir / "gateway.err.log")
    if stderr is not None:
        mtime_ms, line = stderr
        newer = found is None or mtime_ms > _epoch_ms(found["time"]) + 1000
        if newer and (since_ms is None or mtime_ms >= since_ms):
            when = datetime.fromtimestamp(mtime_ms / 1000, UTC)
            return {"time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "message": line,
                    "file": str(log_dir / "gateway.err.log")}
    return found


def _newest_record(log_dir: Path, since_ms: int | None) -> dict[str, str] | None:
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


def _stderr_tail(path: Path) -> tuple[int, str] | None:
    """``(mtime_ms, last non-empty line)`` of a captured-stderr file, if any."""
    try:
        with path.open("rb") as stream:
            mtime_ms = int(os.fstat(stream.fileno()).st_mtime * 1000)
            stream.seek(0, 2)
            stream.seek(max(0, stream.tell() - 4096))
            lines = [x for x in stream.read().decode("utf-8", "replace").splitlines() if x.strip()]
    except OSError:
        return None
    return (mtime_ms, lines[-1].strip()) if lines else None


def _epoch_ms(iso: str) -> int:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0
