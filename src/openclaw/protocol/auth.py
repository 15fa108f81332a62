"""Shared-secret authentication for ``connect``, with a failure rate limit.

Pure: the clock is injected, nothing is logged here. Secrets are compared in
constant time. Failures are counted per remote address in a sliding window; an
address that fails too often is locked out for a while (loopback too, with its own
shorter window).

What a lockout refuses depends on the secret. A password may be weak, so while an
address is locked out even the correct password is refused: the lock must not
confirm a guess. A token is 256 random bits that nobody can guess, so a lockout
only refuses wrong tokens: locking out the correct one would only let anyone who
can reach the port (another local program, say) lock the owner out of their own
gateway by sending bad tokens.
"""

from __future__ import annotations

import hmac
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from openclaw.protocol.frames import OPERATOR_SCOPES, AuthParams

__all__ = ["AuthFailure", "AuthGrant", "Authenticator", "RateLimit", "has_scope", "is_loopback"]

AuthMode = Literal["token", "password", "none"]


@dataclass(frozen=True)
class RateLimit:
    """Failures allowed per window, and how long a lockout lasts (milliseconds)."""

    max_attempts: int = 10
    window_ms: int = 60_000
    lockout_ms: int = 60_000


@dataclass(frozen=True)
class AuthGrant:
    """A successful authentication: the method used, the role and the scopes granted."""

    method: str
    role: str
    scopes: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        """``hello-ok.auth``."""
        return {"method": self.method, "role": self.role, "scopes": list(self.scopes)}


@dataclass(frozen=True)
class AuthFailure:
    """A refused authentication: message and ``details`` for the error object."""

    message: str
    details: dict[str, Any]
    retry_after_ms: int | None = None


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback."""
    return (
        address.startswith("127.") or address == "::1" or address.startswith("::ffff:127.")
    )


def has_scope(granted: tuple[str, ...] | frozenset[str], required: str) -> bool:
    """Scope check: ``operator.admin`` implies everything, ``operator.write`` implies read."""
    if required in granted or "operator.admin" in granted:
        return True
    return required == "operator.read" and "operator.write" in granted


def _same(offered: str, expected: str) -> bool:
    return hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))


class Authenticator:
    """Checks ``connect`` credentials against the gateway's mode and secret."""

    def __init__(
        self,
        mode: AuthMode,
        *,
        token: str | None = None,
        password: str | None = None,
        limit: RateLimit | None = None,
        loopback_limit: RateLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode = mode
        self._token = token
        self._password = password
        self._limit = limit or RateLimit()
        self._loopback_limit = loopback_limit or RateLimit(20, 10_000, 10_000)
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def authenticate(
        self, auth: AuthParams | None, address: str, role: str, scopes: list[str] | None
    ) -> AuthGrant | AuthFailure:
        """Return a grant, or the failure to report to the client."""
        now = self._clock()
        locked = self._locked_until.get(address)
        if locked is not None:
            if now < locked and (self.mode != "token" or self._check(auth) is not None):
                retry = max(1, int((locked - now) * 1000))
                return AuthFailure(
                    "unauthorized: too many failed authentication attempts; retry later",
                    {"code": "AUTH_RATE_LIMITED", "retryAfterMs": retry,
                     "recommendedNextStep": "wait_then_retry"},
                    retry,
                )
            if now >= locked:
                del self._locked_until[address]
            else:  # the right token during a lockout: let the owner in, keep the lock
                return self._grant(role, scopes)
        failure = self._check(auth)
        if failure is not None:
            self._record_failure(address, now)
            return failure
        self._failures.pop(address, None)
        return self._grant(role, scopes)

    def _grant(self, role: str, scopes: list[str] | None) -> AuthGrant:
        granted = tuple(OPERATOR_SCOPES[2:]) if scopes is None else tuple(dict.fromkeys(scopes))
        return AuthGrant(self.mode, role, granted)

    def _check(self, auth: AuthParams | None) -> AuthFailure | None:
        if self.mode == "none":
            return None
        if self.mode == "token":
            expected, offered, name = self._token, auth.token if auth else None, "token"
        else:
            expected, offered, name = self._password, auth.password if auth else None, "password"
        kind = name.upper()
        if not expected:
            return AuthFailure(
                f"unauthorized: gateway {name} not configured",
                {"code": f"AUTH_{kind}_NOT_CONFIGURED",
                 "recommendedNextStep": "update_auth_configuration"},
            )
        if not offered:
            return AuthFailure(
                f"unauthorized: gateway {name} missing",
                {"code": f"AUTH_{kind}_MISSING", "recommendedNextStep": "update_auth_credentials"},
            )
        if not _same(offered, expected):
            return AuthFailure(
                f"unauthorized: gateway {name} mismatch",
                {"code": f"AUTH_{kind}_MISMATCH", "recommendedNextStep": "update_auth_credentials"},
            )
        return None

    def _record_failure(self, address: str, now: float) -> None:
        limit = self._loopback_limit if is_loopback(address) else self._limit
        window = self._failures.setdefault(address, deque())
        window.append(now)
        horizon = now - limit.window_ms / 1000
        while window and window[0] < horizon:
            window.popleft()
        if len(window) >= limit.max_attempts:
            self._locked_until[address] = now + limit.lockout_ms / 1000
            window.clear()
        if len(self._failures) > 10_000:  # bound memory under a spray of addresses
            for stale in [a for a, w in self._failures.items() if not w or w[-1] < horizon]:
                del self._failures[stale]
