"""The one retry-delay policy: full jitter under a doubling ceiling, the cap, the floor,
and a server's ``retry_after`` winning over the draw."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclaw.backoff import Backoff


class RecordingRandom(random.Random):
    """A seeded source that remembers the upper bound of every draw."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        assert a == 0.0  # full jitter: every draw starts at zero
        self.ceilings.append(b)
        return super().uniform(a, b)


def test_ceilings_double_up_to_the_cap_and_reset_starts_over() -> None:
    rng = RecordingRandom(7)
    backoff = Backoff(base=0.1, cap=1.0, floor=0.05, rng=rng)
    delays = [backoff.next() for _ in range(7)]
    assert rng.ceilings == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert backoff.attempt == 7
    assert all(0.05 <= d <= c or d == 0.05 for d, c in zip(delays, rng.ceilings, strict=True))
    backoff.reset()
    assert backoff.attempt == 0
    backoff.next()
    assert rng.ceilings[-1] == pytest.approx(0.1)


policies = st.builds(
    lambda base, cap_factor, floor_share, seed: Backoff(
        base=base, cap=base * cap_factor, floor=base * cap_factor * floor_share,
        rng=random.Random(seed)),
    st.floats(min_value=1e-3, max_value=100.0),
    st.floats(min_value=1.0, max_value=1e4),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=2**32),
)


@given(policies, st.integers(min_value=0, max_value=10**6))
def test_every_delay_is_within_floor_and_ceiling(backoff: Backoff, attempt: int) -> None:
    ceiling = backoff.ceiling(attempt)
    assert ceiling == min(backoff.cap, backoff.base * 2.0 ** min(attempt, 64))
    assert backoff.floor <= backoff.delay(attempt) <= max(backoff.floor, ceiling) <= backoff.cap


@given(policies, st.floats(min_value=0.0, max_value=1e6))
def test_retry_after_replaces_the_draw_and_is_never_cut(backoff: Backoff, asked: float) -> None:
    """Even above the cap: retrying before the server's time is only refused again."""
    assert backoff.delay(3, retry_after=asked) == max(backoff.floor, asked)
    before = backoff.attempt
    assert backoff.next(asked) == max(backoff.floor, asked)
    assert backoff.attempt == before + 1  # it still counts as a failure


def test_delay_keeps_no_state() -> None:
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(1))
    for _ in range(5):
        backoff.delay(4)
    assert backoff.attempt == 0


def test_a_very_long_outage_stays_at_the_cap_without_overflow() -> None:
    """Hours of failures (thousands of attempts): 2**n must not overflow a float."""
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(5))
    delays = [backoff.next() for _ in range(5000)]
    assert max(delays) <= 60.0
    assert backoff.ceiling(10**9) == 60.0


def test_full_jitter_spreads_over_the_whole_window() -> None:
    """At the cap, draws cover [0, cap] evenly: clients that failed together spread out."""
    backoff = Backoff(base=1.0, cap=10.0, rng=random.Random(42))
    draws = [backoff.delay(20) for _ in range(4000)]
    assert min(draws) < 0.1 and max(draws) > 9.9
    assert statistics.fmean(draws) == pytest.approx(5.0, abs=0.3)
    deciles = [sum(1 for d in draws if k <= d < k + 1) for k in range(10)]
    assert all(300 <= n <= 500 for n in deciles), deciles


def test_the_floor_holds_back_a_draw_near_zero() -> None:
    class Zero(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return 0.0

    assert Backoff(base=1.0, cap=4.0, floor=0.2, rng=Zero()).next() == 0.2
    assert Backoff(base=1.0, cap=4.0, rng=Zero()).next() == 0.0


def test_a_seed_makes_the_delays_reproducible() -> None:
    def run(seed: int) -> list[float]:
        backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(seed))
        return [backoff.next() for _ in range(50)]

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_without_a_source_it_draws_its_own() -> None:
    draws = {Backoff(base=1.0, cap=1.0).next() for _ in range(20)}
    assert len(draws) > 1 and all(0.0 <= d <= 1.0 for d in draws)


@pytest.mark.parametrize(("base", "cap", "floor"), [
    (0.0, 1.0, 0.0), (-1.0, 1.0, 0.0), (2.0, 1.0, 0.0), (1.0, 2.0, 3.0), (1.0, 2.0, -0.1),
])
def test_nonsense_parameters_are_refused(base: float, cap: float, floor: float) -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=base, cap=cap, floor=floor)
