"""Is this config file valid? Answered from a small cache when the file is unchanged.

Validating means importing the full config schema (msgspec and its typing
machinery), which costs a CLI process about 40-70 ms. ``gateway status`` and
``doctor`` ask on every run, and the file rarely changes between runs, so the
verdict is kept next to the state, keyed on the file's identity (path, inode, size,
mtime) and this package's version; any edit or upgrade invalidates it.
"""

from __future__ import annotations

import json

from openclaw import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["check_config"]


def _identity(path: Path) -> list[object] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [str(path), st.st_ino, st.st_size, st.st_mtime_ns, __version__]


def check_config(path: Path, cache: Path | None = None) -> tuple[bool, str | None]:
    """``(valid, error message)`` for the config at ``path`` (a missing file is valid).

    ``cache`` is a file where the last verdict is kept; None validates every time.
    """
    identity = _identity(path)
    if identity is None:
        return True, None
    if cache is not None:
        try:
            with open(cache, encoding="utf-8") as stream:
                stored = json.load(stream)
            if stored.get("identity") == identity:
                return bool(stored["valid"]), stored.get("error")
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass
    from openclaw.config import load_config
    from openclaw.errors import ConfigError

    valid, error = True, None
    try:
        load_config(path)
    except ConfigError as exc:
        valid, error = False, exc.message
    if cache is not None and _identity(path) == identity:  # unchanged while we looked
        try:
            from openclaw.atomicfile import write_atomic

            if cache.parent.is_dir():
                write_atomic(cache, json.dumps(
                    {"identity": identity, "valid": valid, "error": error}), 0o600)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return valid, error
