"""The base of every command's result, shared by the CLI and the APIs it renders.

Service operations, ``gateway status`` and ``doctor`` return results the CLI prints
as text or ``--json`` (:mod:`openclaw.cli.render`); they live below the CLI, so the
base class lives here rather than in ``cli/``.
"""

from __future__ import annotations

from openclaw.errors import ExitCode

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CommandResult"]


class CommandResult:
    """Base of every command's result.

    Subclasses (usually dataclasses) say what happened; they override
    :meth:`to_json` (the ``--json`` document) and :meth:`to_text` (what a person
    reads), and set :attr:`exit_code` when success is not 0.
    """

    exit_code: int = ExitCode.OK

    def to_json(self) -> Any:
        """The ``--json`` document (a dict for most commands)."""
        raise NotImplementedError

    def to_text(self) -> str:
        """The text form, without a trailing newline ("" prints nothing)."""
        raise NotImplementedError
