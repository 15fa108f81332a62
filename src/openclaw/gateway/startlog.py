"""Recording a failed start in the file log.

A gateway that cannot start (invalid config, port taken) often runs under a
supervisor with no terminal; writing the reason to the profile's file log lets
``openclaw logs`` and ``gateway status`` show the real cause later.
"""

from __future__ import annotations

import json
import os
import time

from openclaw.logs import FileLog, Redactor
from openclaw.paths import Profile

__all__ = ["record_start_failure"]


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
        file_log = FileLog(profile.log_dir)
        file_log.write_line(json.dumps(entry))
        file_log.close()
    except OSError:
        pass
