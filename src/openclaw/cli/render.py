"""Every command's output, rendered once: a typed result as text or as ``--json``.

A command builds a :class:`CommandResult` (what happened, as data) and hands it to
:func:`emit`, which prints it as text or as one JSON document and returns the exit
status. Failures take the same road: the CLI's error boundary calls
:func:`emit_error`, so with ``--json`` a failure is a JSON object on stdout too
(``{"ok": false, "error": {"code", "message", "hint"}}``) with the same exit status
as the text form.
"""

from __future__ import annotations

import json
import sys

from openclaw.errors import UsageError
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from typing import Any

    from openclaw.errors import OpenClawError

__all__ = ["emit", "emit_error", "paint", "print_json", "use_color"]


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def emit(result: CommandResult, as_json: bool) -> int:
    """Print ``result`` once, as JSON or text; return its exit status."""
    if as_json:
        print_json(result.to_json())
    else:
        text = result.to_text()
        if text:
            sys.stdout.write(text + "\n")
    return int(result.exit_code)


def emit_error(exc: OpenClawError, as_json: bool) -> int:
    """Report a failure: one line on stderr, or a JSON object on stdout with ``--json``."""
    if as_json:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message,
                                 "hint": exc.hint, "exitCode": int(exc.exit_code)}
        if exc.details:
            error["details"] = exc.details
        print_json({"ok": False, "error": error})
    elif isinstance(exc, UsageError) and exc.hint:
        # A usage error stays one line, like argparse's own: the hint is where to look.
        sys.stderr.write(f"openclaw: error: {exc.message} ({exc.hint})\n")
    else:
        line = f"openclaw: {exc.message}"
        if exc.hint:
            line += f"\nhint: {exc.hint}"
        sys.stderr.write(line + "\n")
    return int(exc.exit_code)


_COLORS = {"green": "32", "yellow": "33", "red": "31", "dim": "2", "bold": "1"}


def use_color(stream: Any = None) -> bool:
    """True when ``stream`` (stdout by default) is a terminal and colour is not off.

    Colour is off with ``NO_COLOR`` set to anything non-empty (``--no-color`` sets
    it), with ``TERM=dumb``, and whenever the output is not a terminal.
    """
    import os

    target = sys.stdout if stream is None else stream
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, color: str, enabled: bool) -> str:
    """``text`` in ``color`` (green, yellow, red, dim, bold) when ``enabled``."""
    if not enabled or color not in _COLORS:
        return text
    return f"\033[{_COLORS[color]}m{text}\033[0m"
