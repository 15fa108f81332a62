"""The one retry-delay policy: exponential backoff with full jitter, a cap, and the
server's word.

Every retry loop of the project (the clients reconnecting, the channel supervisor,
``send`` retries, model calls, the CLI's reconnects) waits ``uniform(0, min(cap,
base·2ⁿ))`` before attempt ``n + 1``. Full jitter spreads a crowd of clients that
failed together over the whole window, so they do not come back in step; the cap
bounds the wait in a long outage. When the server said how long to wait (a 429's
``retry_after``, a ``retryAfterMs``), that wins: the delay is then exactly what it
asked, even above the cap, because retrying earlier is only refused again.

This module imports nothing of the project and only the standard library, lazily:
the CLI imports it on its time-budgeted path.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and random cost import time on the CLI path
if TYPE_CHECKING:
    import random

__all__ = ["Backoff"]

# 2**_MAX_EXPONENT · base is past any sane cap; a larger exponent would overflow a float.
_MAX_EXPONENT = 64


class Backoff:
    """Delays between attempts: full jitter under a doubling ceiling, capped.

    One object serves either way: call :meth:`next` after each failure and
    :meth:`reset` after a success (it counts the attempts), or keep the count
    yourself and call :meth:`delay` (it keeps no state; one object can serve many
    concurrent retry loops).

    Args:
        base: the ceiling of the first delay, in seconds.
        cap: the largest ceiling, in seconds.
        floor: the shortest delay, in seconds (full jitter may draw ~0; a floor keeps
            a tight loop from hammering a peer that refuses at once).
        rng: the random source; a seeded one makes the delays reproducible.

    Raises:
        ValueError: when ``base`` is not positive or ``floor``/``cap`` are out of order.
    """

    __slots__ = ("_rng", "attempt", "base", "cap", "floor")

    def __init__(self, base: float = 1.0, cap: float = 30.0, *, floor: float = 0.0,
                 rng: random.Random | None = None) -> None:
        if base <= 0 or not 0 <= floor <= cap or cap < base:
            raise ValueError(f"need 0 < base <= cap and 0 <= floor <= cap, "
                             f"got base={base}, cap={cap}, floor={floor}")
        self.base = base
        self.cap = cap
        self.floor = floor
        #: Failures since the last :meth:`reset`; the next delay's exponent.
        self.attempt = 0
        self._rng = rng

    def __repr__(self) -> str:
        return (f"Backoff(base={self.base}, cap={self.cap}, floor={self.floor}, "
                f"attempt={self.attempt})")

    def ceiling(self, attempt: int) -> float:
        """The largest delay of attempt ``attempt`` (0-based): ``min(cap, base·2ⁿ)``."""
        return min(self.cap, self.base * 2.0 ** min(max(attempt, 0), _MAX_EXPONENT))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based), without counting it.

        ``retry_after`` (seconds the server asked for) replaces the jittered draw; the
        result is never below it nor below ``floor``.
        """
        if retry_after is not None:
            return max(self.floor, retry_after)
        rng = self._rng
        if rng is None:
            import random

            rng = self._rng = random.Random()
        return max(self.floor, rng.uniform(0.0, self.ceiling(attempt)))

    def next(self, retry_after: float | None = None) -> float:
        """The delay after one more failure, counting it (see :meth:`delay`)."""
        delay = self.delay(self.attempt, retry_after)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start over from the shortest ceiling (after a success)."""
        self.attempt = 0
