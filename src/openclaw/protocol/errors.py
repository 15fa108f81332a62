"""Wire error codes and the error objects built from them."""

from __future__ import annotations

from typing import Any

from openclaw.errors import OpenClawError

__all__ = [
    "AGENT_TIMEOUT",
    "FORBIDDEN",
    "INVALID_REQUEST",
    "NOT_LINKED",
    "NOT_PAIRED",
    "UNAVAILABLE",
    "Forbidden",
    "InvalidRequest",
    "Unavailable",
    "WireError",
    "error_from",
    "error_object",
]

INVALID_REQUEST = "INVALID_REQUEST"
UNAVAILABLE = "UNAVAILABLE"
NOT_LINKED = "NOT_LINKED"
NOT_PAIRED = "NOT_PAIRED"
AGENT_TIMEOUT = "AGENT_TIMEOUT"
FORBIDDEN = "FORBIDDEN"


def error_object(code: str, message: str, details: dict[str, Any] | None = None, *,
                 retryable: bool | None = None,
                 retry_after_ms: int | None = None) -> dict[str, Any]:
    """Build the wire error ``{code, message, details?, retryable?, retryAfterMs?}``.

    The one builder of wire errors: the dispatcher, the sans-I/O connection and every
    stored error (a failed send, a failed delivery) go through it.
    """
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    if retryable is not None:
        error["retryable"] = retryable
    if retry_after_ms is not None:
        error["retryAfterMs"] = retry_after_ms
    return error


def error_from(exc: OpenClawError) -> dict[str, Any]:
    """The wire error for a deliberate error (its code, message and retry hints)."""
    return error_object(exc.code, exc.message, exc.details, retryable=exc.retryable,
                        retry_after_ms=exc.retry_after_ms)


class WireError(OpenClawError):
    """A server-side error with an explicit wire code, e.g. one stored with a send and
    answered again on a repeat of its idempotency key."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None,
                 retryable: bool | None = None, retry_after_ms: int | None = None) -> None:
        super().__init__(message, details=details, retryable=retryable,
                         retry_after_ms=retry_after_ms)
        self.code = code

    @classmethod
    def from_wire(cls, error: Any) -> WireError:
        """Rebuild from a stored wire error object, tolerating a malformed one."""
        if not isinstance(error, dict):
            return cls(UNAVAILABLE, f"malformed stored error: {error!r}")
        details, retryable, retry_after = (
            error.get("details"), error.get("retryable"), error.get("retryAfterMs"))
        return cls(str(error.get("code") or UNAVAILABLE), str(error.get("message") or "failed"),
                   details=details if isinstance(details, dict) else None,
                   retryable=retryable if isinstance(retryable, bool) else None,
                   retry_after_ms=retry_after if isinstance(retry_after, int) else None)


class InvalidRequest(OpenClawError):
    """The request is malformed or names something that does not exist."""

    code = INVALID_REQUEST


class Unavailable(OpenClawError):
    """The gateway or a dependency cannot do this now (shutting down, I/O failed)."""

    code = UNAVAILABLE


class Forbidden(OpenClawError):
    """The connection lacks the scope the method needs."""

    code = FORBIDDEN

    def __init__(self, missing: str, required: list[str]) -> None:
        super().__init__(
            f"missing scope: {missing}",
            details={"code": "MISSING_SCOPE", "missingScope": missing, "requiredScopes": required},
        )
