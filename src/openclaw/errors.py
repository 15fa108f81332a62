"""One exception root for the whole package.

Every error the project raises on purpose derives from :class:`OpenClawError` and
knows two things about itself: the wire error code a gateway method answers with
(``INVALID_REQUEST``, ``UNAVAILABLE``, ...) and the exit status the CLI leaves with.
The gateway's dispatcher and the CLI's error boundary are the only places that turn
these into protocol errors and exit codes.

Exit statuses (documented in ``docs/exit-codes.md``; keep the two in step)::

    0   success
    1   the operation failed (an RPC answered with an error, a port is taken, ...)
    2   usage error (unknown flag, bad --params JSON)
    3   ``gateway status``: the gateway is not running (LSB)
    69  the gateway is unreachable (refused, timed out, closed during handshake)
    77  the gateway refused the credentials
    78  invalid configuration, or a damaged database (the gateway exits 78 so
        supervisors stop relaunching)
    130 interrupted (Ctrl-C)
"""

from __future__ import annotations

from enum import IntEnum

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "DamagedDatabase",
    "ExitCode",
    "GatewayUnreachable",
    "OpenClawError",
    "PortInUseError",
    "RequestError",
    "UsageError",
]


class ExitCode(IntEnum):
    """Every exit status the CLI and the gateway use (``docs/exit-codes.md``)."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_RUNNING = 3
    UNAVAILABLE = 69
    AUTH = 77
    CONFIG = 78
    INTERRUPTED = 130



class OpenClawError(Exception):
    """Root of every deliberate error: a one-line message, a wire code, an exit code."""

    code: str = "UNAVAILABLE"
    exit_code: int = ExitCode.FAILURE

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
        retry_after_ms: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: What to do about it, in one sentence (shown by the CLI; ``--json`` has it as
        #: ``error.hint``). Never sent on the wire.
        self.hint = hint
        self.details = details
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms


class UsageError(OpenClawError):
    """The command line or request parameters are wrong; the caller must change them."""

    code = "INVALID_REQUEST"
    exit_code = ExitCode.USAGE


class ConfigError(OpenClawError):
    """The config file (or flags standing in for it) cannot be used.

    The message always names the file, the key path and the reason, so the user can
    go straight to the line to fix. The gateway exits 78 on it.
    """

    code = "INVALID_REQUEST"
    exit_code = ExitCode.CONFIG

    def __init__(self, path: str | None, key: str | None, reason: str) -> None:
        where = path or "<flags>"
        message = f"invalid config {where}"
        if key:
            message += f": {key}"
        message += f": {reason}"
        super().__init__(message)
        self.path = path
        self.key = key
        self.reason = reason


class DamagedDatabase(OpenClawError):
    """The gateway database is truncated or corrupt; it is left as it is for a restore.

    Exit 78 like an invalid config: relaunching cannot help, a person must restore it.
    """

    code = "UNAVAILABLE"
    exit_code = ExitCode.CONFIG


class PortInUseError(OpenClawError):
    """The gateway port is held by another process that we may not stop."""

    exit_code = ExitCode.FAILURE


class GatewayUnreachable(OpenClawError):
    """No gateway answered at the target (refused, timed out, or closed on us)."""

    code = "UNAVAILABLE"
    exit_code = ExitCode.UNAVAILABLE


class AuthError(OpenClawError):
    """The gateway refused the credentials we offered."""

    code = "INVALID_REQUEST"
    exit_code = ExitCode.AUTH


class RequestError(OpenClawError):
    """A gateway method answered ``ok:false``; carries the wire error as received."""

    exit_code = ExitCode.FAILURE

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(
            message, details=details, retryable=retryable, retry_after_ms=retry_after_ms
        )
        self.code = code

    @classmethod
    def from_wire(cls, error: Any) -> RequestError:
        """Build from a response's ``error`` object, tolerating a malformed one."""
        if not isinstance(error, dict):
            return cls("UNAVAILABLE", f"malformed error from gateway: {error!r}")
        details = error.get("details")
        retry_after = error.get("retryAfterMs")
        return cls(
            str(error.get("code") or "UNAVAILABLE"),
            str(error.get("message") or "request failed"),
            details=details if isinstance(details, dict) else None,
            retryable=error.get("retryable") if isinstance(error.get("retryable"), bool) else None,
            retry_after_ms=retry_after if isinstance(retry_after, int) else None,
        )
