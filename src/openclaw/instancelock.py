"""The profile lock: one gateway per profile, and nothing restored under a live one.

The gateway holds an exclusive ``flock`` on ``<state dir>/gateway.lock`` while it
runs; ``backup restore`` and ``doctor --fix`` take the same lock for the length of
a restore, so neither can replace files a gateway has open, and a gateway cannot
start half-way through a restore.
"""

from __future__ import annotations

import errno
import fcntl
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO

__all__ = ["InstanceLock"]


class InstanceLock:
    """An exclusive ``flock`` on the profile's lock file, released when the process dies.

    The holder writes its pid into the file, so a second start can name it. A lock
    held by a dead process cannot exist (the kernel drops it), so there is no
    stale-lock cleanup to get wrong.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] | None = None

    def holder(self) -> int | None:
        """Pid recorded by the current holder, if any."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def acquire(self) -> bool:
        """Try to take the lock without blocking."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        stream = os.fdopen(fd, "r+", encoding="ascii")
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            stream.close()
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        stream.seek(0)
        stream.truncate()
        stream.write(str(os.getpid()))
        stream.flush()
        self._stream = stream
        return True

    def release(self) -> None:
        """Drop the lock (also happens implicitly at exit)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
