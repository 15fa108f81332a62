"""Recording a failed start in the file log.

A gateway that cannot start (invalid config, port taken) often runs under a
supervisor with no terminal; writing the reason to the profile's file log lets
``openclaw logs`` and ``gateway status`` show the real cause later.
"""

from __future__ import annotations

import json
import os
import time

from openclaw.configfile import read_lenient
from openclaw.logs import FileLog
from openclaw.paths import Profile
from openclaw.redact import Redactor

__all__ = ["record_start_failure"]


def _file_log(profile: Profile) -> FileLog:
    """The profile's file log as the config shapes it, read leniently.

    The config may be the very thing that is broken, so each value is taken only if
    it has the right type; everything else falls back to the defaults. Retention
    matters most: opening the log prunes old files, and must not prune more than
    the user asked for.
    """
    config = read_lenient(profile.config_path)
    limits = {}  # only well-typed values; FileLog's defaults are the config's defaults
    for key, arg in (("maxFileBytes", "max_file_bytes"), ("maxArchives", "max_archives"),
                     ("retentionDays", "retention_days")):
        value = config.positive_int(f"logging.{key}")
        if value is not None:
            limits[arg] = value
    return FileLog(config.log_dir(profile.log_dir), **limits)


def record_start_failure(profile: Profile, message: str, *, another_gateway: bool) -> None:
    """Record a failed start (best effort, never raises).

    With no gateway of this profile running, the file log is the place (``openclaw
    logs`` then shows it). A start that failed because the port or the profile lock
    is taken, or while a gateway of the profile runs (``another_gateway``), must not
    write into that gateway's log: its reason goes to ``gateway.err.log`` next to it,
    the file ``gateway status`` also reads for a service's last error (and where
    launchd captures a service's stderr).
    """
    line = Redactor().redact(f"gateway failed to start: {message}")
    try:
        file_log = _file_log(profile)
        if another_gateway:
            file_log.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            with open(file_log.directory / "gateway.err.log", "a", encoding="utf-8") as stream:
                stream.write(f"{stamp} {line}\n")
            return
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "level": "error",
            "subsystem": "gateway",
            "message": line,
            "pid": os.getpid(),
        }
        file_log.write_line(json.dumps(entry))
        file_log.close()
    except OSError:
        pass
