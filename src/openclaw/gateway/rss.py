"""The process's current resident set size, cheap enough to read on every ``health``.

Read from an open ``/proc/self/statm``; where ``/proc`` is missing (macOS) the peak
RSS from ``getrusage`` stands in.
"""

from __future__ import annotations

import os

__all__ = ["rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
try:
    _FD: int | None = os.open("/proc/self/statm", os.O_RDONLY)
except OSError:
    _FD = None


def rss_bytes() -> int:
    """Resident set size in bytes."""
    if _FD is not None:
        try:
            return int(os.pread(_FD, 128, 0).split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
