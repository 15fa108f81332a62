"""Replacing a file so readers see the old or the new content, never half of either,
and a crash or power loss leaves one of the two on disk.

Every state, secret and definition file the project writes goes through
:func:`write_atomic`; nothing else renames temporary files into place.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary sibling with ``mode``, fsync it, rename it over
    ``path``, then fsync the directory.

    The mode is set on creation and again before the rename (past the umask), so a
    secret is never readable by others, not even for an instant. The temporary name
    is unique per call, so two writers of one file never write into each other's
    temporary file: the last rename wins whole. Syncing the file before the rename
    keeps a crash from leaving an empty file under the new name; syncing the
    directory makes the rename itself durable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # the old file is untouched
        if exc.filename is None:  # a failed write names no file; say which one
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # not openable here (some platforms): the rename is done, only less durable
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; nothing better can be done
    finally:
        os.close(fd)
