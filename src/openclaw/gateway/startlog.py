"""Recording a failed start in the file log.

A gateway that cannot start (invalid config, port taken) often runs under a
supervisor with no terminal; writing the reason to the profile's file log lets
``openclaw logs`` and ``gateway status`` show the real cause later.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from openclaw.configfile import get_path, read_document
from openclaw.errors import ConfigError
from openclaw.logs import FileLog, Redactor
from openclaw.paths import Profile

__all__ = ["record_start_failure"]


def _log_dir(profile: Profile) -> Path:
    """``logging.dir`` if the config names one (read leniently), else the profile's."""
    try:
        configured = get_path(read_document(profile.config_path), "logging.dir")
    except ConfigError:
        configured = None
    return Path(configured).expanduser() if isinstance(configured, str) else profile.log_dir


def record_start_failure(profile: Profile, message: str) -> None:
    """Append an ``error`` record for a failed start (best effort, never raises)."""
    try:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "level": "error",
            "subsystem": "gateway",
            "message": Redactor().redact(f"gateway failed to start: {message}"),
            "pid": os.getpid(),
        }
        file_log = FileLog(_log_dir(profile))
        file_log.write_line(json.dumps(entry))
        file_log.close()
    except OSError:
        pass
