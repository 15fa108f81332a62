"""The one clock helper: wall-clock milliseconds for timestamps on the wire and on disk.

Deadlines, timeouts and retry delays use :func:`time.monotonic` instead, so a
wall-clock jump never fires or stalls them.
"""

from __future__ import annotations

import time

__all__ = ["now_ms"]


def now_ms() -> int:
    """Milliseconds since the Unix epoch (wall clock)."""
    return int(time.time() * 1000)
