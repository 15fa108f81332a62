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
    "error_object",
]

INVALID_REQUEST = "INVALID_REQUEST"
UNAVAILABLE = "UNAVAILABLE"
NOT_LINKED = "NOT_LINKED"
NOT_PAIRED = "NOT_PAIRED"
AGENT_TIMEOUT = "AGENT_TIMEOUT"
FORBIDDEN = "FORBIDDEN"


def error_object(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build ``{code, message, details?}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return error


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
