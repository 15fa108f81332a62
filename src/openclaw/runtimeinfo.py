"""The running gateway's own record of itself (``gateway.runtime.json`` in the state dir).

The gateway writes it once it listens and removes it on a clean stop, so a record
naming a live process is the most direct answer to "which port is this profile's
gateway on right now", whatever flag or service started it.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from openclaw.paths import Profile

__all__ = ["running_port", "running_record"]


def running_record(profile: Profile) -> tuple[int, int] | None:
    """``(pid, port)`` of this profile's gateway if its runtime record names a live process."""
    try:
        with open(profile.runtime_path, encoding="utf-8") as stream:
            record = json.load(stream)
        pid, port = int(record["pid"]), int(record["port"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid, port


def running_port(profile: Profile) -> int | None:
    """The port of this profile's gateway if its runtime record names a live process."""
    record = running_record(profile)
    return record[1] if record else None
