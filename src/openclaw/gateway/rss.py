"""The process's current resident set size, cheap enough to read on every ``health``,
and giving freed heap memory back to the system after a large message.

Read from an open ``/proc/self/statm``; where ``/proc`` is missing (macOS) the peak
RSS from ``getrusage`` stands in.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["release_heap", "rss_bytes"]

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


_trim: Any = None


def release_heap() -> None:
    """Return free heap memory to the system (glibc's ``malloc_trim``; elsewhere a no-op).

    A large frame is copied a few times on its way in; glibc keeps such freed blocks
    in the heap (its mmap threshold rises after the first large free), so without
    this the gateway's RSS would stay tens of MiB higher after one big message.
    """
    global _trim
    if _trim is None:
        _trim = False
        try:
            import ctypes

            # The process's own symbols: libc is already loaded, so nothing is searched
            # for (ctypes.util.find_library would run ldconfig on the event loop).
            _trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            pass
    if _trim:
        _trim(0)
