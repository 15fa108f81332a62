"""Replacing a file so readers see the old or the new content, never half of either."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary sibling with ``mode``, fsync it, rename it over ``path``.

    The mode is set on creation (and again explicitly, past the umask), so a secret
    is never readable by others, not even for an instant.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
