"""Unit tests for openclaw.protocol.auth: shared-secret checks and the rate limit."""

from __future__ import annotations

import pytest

from openclaw.protocol.auth import (
    Authenticator,
    AuthFailure,
    AuthGrant,
    RateLimit,
    has_scope,
    is_loopback,
)
from openclaw.protocol.frames import AuthParams

REMOTE = "203.0.113.9"
OTHER = "198.51.100.7"
LOOPBACK = "127.0.0.1"


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token(value: str | None) -> AuthParams:
    return AuthParams(token=value)


def password(value: str | None) -> AuthParams:
    return AuthParams(password=value)


def code_of(outcome: AuthGrant | AuthFailure) -> str:
    assert isinstance(outcome, AuthFailure), outcome
    return str(outcome.details["code"])


# --- modes ---------------------------------------------------------------------------


def test_token_mode_success() -> None:
    auth = Authenticator("token", token="s3cret")
    grant = auth.authenticate(token("s3cret"), REMOTE, "operator", None)
    assert isinstance(grant, AuthGrant)
    assert grant.method == "token"
    assert grant.role == "operator"
    assert grant.scopes == ("operator.admin",)
    assert grant.to_wire() == {"method": "token", "role": "operator",
                               "scopes": ["operator.admin"]}


def test_requested_scopes_are_granted_deduplicated_in_order() -> None:
    auth = Authenticator("token", token="s3cret")
    grant = auth.authenticate(
        token("s3cret"), REMOTE, "operator",
        ["operator.write", "operator.read", "operator.write"],
    )
    assert isinstance(grant, AuthGrant)
    assert grant.scopes == ("operator.write", "operator.read")


def test_empty_scope_list_grants_nothing() -> None:
    grant = Authenticator("none").authenticate(None, REMOTE, "operator", [])
    assert isinstance(grant, AuthGrant)
    assert grant.scopes == ()


def test_token_missing() -> None:
    auth = Authenticator("token", token="s3cret")
    for offered in (None, token(None), token(""), password("s3cret")):
        outcome = auth.authenticate(offered, REMOTE, "operator", None)
        assert isinstance(outcome, AuthFailure)
        assert outcome.message == "unauthorized: gateway token missing"
        assert outcome.details == {"code": "AUTH_TOKEN_MISSING",
                                   "recommendedNextStep": "update_auth_credentials"}
        assert outcome.retry_after_ms is None


def test_token_mismatch() -> None:
    auth = Authenticator("token", token="s3cret")
    for wrong in ("s3cre", "s3cret ", "S3CRET", "s3cret-and-more", "ü"):
        outcome = auth.authenticate(token(wrong), REMOTE, "operator", None)
        assert isinstance(outcome, AuthFailure)
        assert outcome.message == "unauthorized: gateway token mismatch"
        assert outcome.details["code"] == "AUTH_TOKEN_MISMATCH"
        assert outcome.details["recommendedNextStep"] == "update_auth_credentials"


@pytest.mark.parametrize("configured", [None, ""])
def test_token_not_configured(configured: str | None) -> None:
    auth = Authenticator("token", token=configured)
    outcome = auth.authenticate(token("anything"), REMOTE, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.message == "unauthorized: gateway token not configured"
    assert outcome.details == {"code": "AUTH_TOKEN_NOT_CONFIGURED",
                               "recommendedNextStep": "update_auth_configuration"}


def test_password_mode() -> None:
    auth = Authenticator("password", password="hunter22", token="unused-token")
    grant = auth.authenticate(password("hunter22"), REMOTE, "operator", None)
    assert isinstance(grant, AuthGrant)
    assert grant.method == "password"
    assert code_of(auth.authenticate(password("nope"), OTHER, "operator", None)) == (
        "AUTH_PASSWORD_MISMATCH"
    )
    # a token is not a password
    assert code_of(auth.authenticate(token("unused-token"), OTHER, "operator", None)) == (
        "AUTH_PASSWORD_MISSING"
    )
    assert code_of(auth.authenticate(None, OTHER, "operator", None)) == "AUTH_PASSWORD_MISSING"


def test_password_not_configured() -> None:
    outcome = Authenticator("password").authenticate(password("x"), REMOTE, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.message == "unauthorized: gateway password not configured"
    assert outcome.details["code"] == "AUTH_PASSWORD_NOT_CONFIGURED"


def test_none_mode_accepts_anything() -> None:
    auth = Authenticator("none", token="ignored")
    for offered in (None, token("wrong"), password("wrong")):
        grant = auth.authenticate(offered, REMOTE, "operator", None)
        assert isinstance(grant, AuthGrant)
        assert grant.method == "none"


def test_unicode_secret() -> None:
    auth = Authenticator("token", token="tökén-✓")
    assert isinstance(auth.authenticate(token("tökén-✓"), REMOTE, "operator", None), AuthGrant)
    assert code_of(auth.authenticate(token("token-✓"), REMOTE, "operator", None)) == (
        "AUTH_TOKEN_MISMATCH"
    )


def test_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    auth = Authenticator("token", token="s3cret")
    assert isinstance(auth.authenticate(token("s3cret"), REMOTE, "operator", None), AuthGrant)
    assert isinstance(auth.authenticate(token("wrong!"), REMOTE, "operator", None), AuthFailure)
    assert calls == [(b"s3cret", b"s3cret"), (b"wrong!", b"s3cret")]


# --- rate limit ----------------------------------------------------------------------


def make(clock: Clock, *, attempts: int = 3, window_ms: int = 10_000,
         lockout_ms: int = 30_000) -> Authenticator:
    return Authenticator(
        "token", token="right", clock=clock,
        limit=RateLimit(attempts, window_ms, lockout_ms),
        loopback_limit=RateLimit(5, 2_000, 4_000),
    )


def fail(auth: Authenticator, address: str = REMOTE) -> str:
    return code_of(auth.authenticate(token("wrong"), address, "operator", None))


def test_lockout_after_max_attempts() -> None:
    clock = Clock()
    auth = make(clock)
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"  # the 3rd failure locks
    outcome = auth.authenticate(token("wrong"), REMOTE, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.details["code"] == "AUTH_RATE_LIMITED"
    assert outcome.details["recommendedNextStep"] == "wait_then_retry"
    assert outcome.details["retryAfterMs"] == 30_000
    assert outcome.retry_after_ms == 30_000
    assert "too many failed authentication attempts" in outcome.message


def test_correct_token_still_accepted_while_locked() -> None:
    """A 256-bit token cannot be guessed; a lockout that refused it would only let
    whoever sends bad tokens lock the owner out."""
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        fail(auth)
    clock.advance(10)
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)
    # the owner getting in does not lift the lock for the wrong ones
    outcome = auth.authenticate(token("wrong"), REMOTE, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.details["code"] == "AUTH_RATE_LIMITED"
    assert outcome.retry_after_ms == 20_000
    assert code_of(auth.authenticate(None, REMOTE, "operator", None)) == "AUTH_RATE_LIMITED"


def test_correct_password_refused_while_locked() -> None:
    """A password may be weak: during a lockout the right one is refused too, so the
    lock cannot confirm a guess."""
    clock = Clock()
    auth = Authenticator("password", password="right", clock=clock,
                         limit=RateLimit(3, 10_000, 30_000))
    for _ in range(3):
        assert code_of(auth.authenticate(password("wrong"), REMOTE, "operator", None)) == \
            "AUTH_PASSWORD_MISMATCH"
    clock.advance(10)
    outcome = auth.authenticate(password("right"), REMOTE, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.details["code"] == "AUTH_RATE_LIMITED"
    assert outcome.retry_after_ms == 20_000
    clock.advance(20)
    assert isinstance(auth.authenticate(password("right"), REMOTE, "operator", None), AuthGrant)


def test_lock_is_per_address() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        fail(auth, REMOTE)
    assert isinstance(auth.authenticate(token("right"), OTHER, "operator", None), AuthGrant)
    assert fail(auth, OTHER) == "AUTH_TOKEN_MISMATCH"


def test_lockout_expires() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        fail(auth)
    clock.advance(29.5)
    assert fail(auth) == "AUTH_RATE_LIMITED"
    clock.advance(0.5)
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)


def test_after_lockout_the_count_starts_over() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        fail(auth)
    clock.advance(31)
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)


def test_attempts_while_locked_do_not_extend_the_lock() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        fail(auth)
    for _ in range(10):
        clock.advance(2)
        assert fail(auth) == "AUTH_RATE_LIMITED"
    clock.advance(10)  # 30 s after locking
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)


def test_failures_outside_the_window_do_not_count() -> None:
    clock = Clock()
    auth = make(clock)  # 3 attempts per 10 s
    fail(auth)
    fail(auth)
    clock.advance(10.5)  # the first two slide out of the window
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)


def test_failures_spread_inside_the_window_lock() -> None:
    clock = Clock()
    auth = make(clock)
    fail(auth)
    clock.advance(4)
    fail(auth)
    clock.advance(4)
    fail(auth)
    assert fail(auth) == "AUTH_RATE_LIMITED"


def test_success_clears_failures() -> None:
    clock = Clock()
    auth = make(clock)
    fail(auth)
    fail(auth)
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)
    fail(auth)
    fail(auth)
    # only two failures since the success: not locked
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)


def test_loopback_has_its_own_limit() -> None:
    clock = Clock()
    auth = make(clock)  # remote: 3/10 s lock 30 s; loopback: 5/2 s lock 4 s
    for _ in range(4):
        assert fail(auth, LOOPBACK) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth, LOOPBACK) == "AUTH_TOKEN_MISMATCH"  # 5th locks
    outcome = auth.authenticate(token("wrong"), LOOPBACK, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.retry_after_ms == 4_000
    clock.advance(4)
    assert fail(auth, LOOPBACK) == "AUTH_TOKEN_MISMATCH"


def test_loopback_window_is_shorter() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(4):
        fail(auth, LOOPBACK)
    clock.advance(2.5)  # outside the loopback window of 2 s
    for _ in range(4):
        assert fail(auth, LOOPBACK) == "AUTH_TOKEN_MISMATCH"


@pytest.mark.parametrize("address", ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses_use_loopback_limit(address: str) -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(4):  # more than the remote limit of 3
        assert fail(auth, address) == "AUTH_TOKEN_MISMATCH"


def test_default_limits() -> None:
    clock = Clock()
    auth = Authenticator("token", token="right", clock=clock)
    for _ in range(10):
        assert fail(auth) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth) == "AUTH_RATE_LIMITED"
    for _ in range(20):
        assert fail(auth, LOOPBACK) == "AUTH_TOKEN_MISMATCH"
    assert fail(auth, LOOPBACK) == "AUTH_RATE_LIMITED"
    clock.advance(10)
    assert isinstance(auth.authenticate(token("right"), LOOPBACK, "operator", None), AuthGrant)
    assert fail(auth) == "AUTH_RATE_LIMITED"  # remote lockout is 60 s
    clock.advance(50)
    assert isinstance(auth.authenticate(token("right"), REMOTE, "operator", None), AuthGrant)


def test_missing_credentials_count_as_failures() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        assert code_of(auth.authenticate(None, REMOTE, "operator", None)) == "AUTH_TOKEN_MISSING"
    assert code_of(auth.authenticate(None, REMOTE, "operator", None)) == "AUTH_RATE_LIMITED"


def test_retry_after_is_at_least_one_ms() -> None:
    clock = Clock()
    auth = make(clock)
    for _ in range(3):
        fail(auth)
    clock.advance(29.9999999)
    outcome = auth.authenticate(token("wrong"), REMOTE, "operator", None)
    assert isinstance(outcome, AuthFailure)
    assert outcome.retry_after_ms == 1


def test_none_mode_never_locks() -> None:
    auth = Authenticator("none", clock=Clock(), limit=RateLimit(1, 1000, 1000))
    for _ in range(5):
        assert isinstance(auth.authenticate(None, REMOTE, "operator", None), AuthGrant)


# --- helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("::2", False),
        ("::ffff:10.0.0.1", False),
        ("128.0.0.1", False),
    ],
)
def test_is_loopback(address: str, expected: bool) -> None:
    assert is_loopback(address) is expected


@pytest.mark.parametrize(
    ("granted", "required", "expected"),
    [
        (("operator.admin",), "operator.admin", True),
        (("operator.admin",), "operator.write", True),
        (("operator.admin",), "operator.read", True),
        (("operator.admin",), "operator.anything", True),
        (("operator.write",), "operator.read", True),
        (("operator.write",), "operator.write", True),
        (("operator.write",), "operator.admin", False),
        (("operator.read",), "operator.read", True),
        (("operator.read",), "operator.write", False),
        (("operator.read",), "operator.admin", False),
        ((), "operator.read", False),
        (("operator.pairing",), "operator.read", False),
        (("operator.pairing",), "operator.pairing", True),
    ],
)
def test_has_scope(granted: tuple[str, ...], required: str, expected: bool) -> None:
    assert has_scope(granted, required) is expected
    assert has_scope(frozenset(granted), required) is expected
