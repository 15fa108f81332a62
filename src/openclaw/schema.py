"""The conventions every config struct shares, for ``config`` and channel modules alike.

:class:`Section` is the base of every object in ``openclaw.json``: immutable, closed
(an unknown key is refused) and camelCase on disk. :func:`describe_validation_error`
turns msgspec's message into the ``(key path, reason)`` a
:class:`~openclaw.errors.ConfigError` names. Channel modules define their sections
here rather than in :mod:`openclaw.config`, so the config loader can validate them
through the channel registry without a cycle.
"""

from __future__ import annotations

import re

import msgspec

__all__ = ["Section", "describe_validation_error"]


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Base of every config object: immutable, closed, camelCase keys on disk."""


_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")


def describe_validation_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's message into ``(key path, reason)``; ``(top level)`` for the root."""
    match = _AT.match(str(error))
    assert match is not None  # the pattern accepts any text
    reason = match["reason"]
    path = (match["path"] or "").lstrip(".")
    unknown = _UNKNOWN.match(reason)
    if unknown:
        field = unknown["field"]
        path = f"{path}.{field}" if path else field
        reason = "unknown key (check the spelling; see docs/configuration.md)"
    return path or "(top level)", reason
