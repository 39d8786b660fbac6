"""trinetra.retry: full-jitter backoff (bounds, growth, cap, reset, reproducibility) and
the async `retry` helper."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from trinetra.retry import Backoff, BackoffConfig, retry


def test_ceilings_grow_by_the_multiplier_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 10.0, multiplier=3.0)
    assert [backoff.ceiling(n) for n in range(5)] == [0.5, 1.5, 4.5, 10.0, 10.0]
    assert backoff.ceiling(10**6) == 10.0  # no float overflow after a long outage
    assert backoff.ceiling(-1) == 0.5


def test_every_delay_is_within_zero_and_its_ceiling() -> None:
    backoff = Backoff(1.0, 30.0, rng=random.Random(7))
    for attempt in range(12):
        ceiling = backoff.ceiling(attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter: the whole range is used, not just the part near the ceiling.
        assert min(delays) < 0.2 * ceiling and max(delays) > 0.8 * ceiling


def test_next_delay_counts_failures_grows_and_reset_starts_over() -> None:
    backoff = Backoff(1.0, 4.0, rng=random.Random(3))
    assert backoff.failures == 0
    bounds = []
    for _ in range(5):
        delay = backoff.next_delay()
        bounds.append(backoff.ceiling(backoff.failures - 1))
        assert delay <= bounds[-1]
    assert bounds == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.failures == 5
    backoff.reset()
    assert backoff.failures == 0
    assert all(Backoff(1.0, 4.0).next_delay() <= 1.0 for _ in range(100))
    assert backoff.next_delay() <= 1.0


def test_a_seeded_rng_gives_the_same_delays() -> None:
    def draws(seed: int) -> list[float]:
        backoff = Backoff(0.1, 5.0, rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(20)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_nonsense_bounds_are_refused() -> None:
    for initial_s, max_s, multiplier in [(0.0, 1.0, 2.0), (2.0, 1.0, 2.0), (1.0, 2.0, 0.5)]:
        with pytest.raises(ValueError):
            Backoff(initial_s, max_s, multiplier)
    with pytest.raises(ValidationError, match="max_s must be >= initial_s"):
        BackoffConfig(initial_s=5.0, max_s=1.0)
    config = BackoffConfig(initial_s=0.5, max_s=2.0, multiplier=4.0)
    assert Backoff.from_config(config).ceiling(1) == 2.0


class Flaky:
    """Fails `failures` times with `error`, then answers "ok"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.left, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise self.error
        return "ok"


class Sleeps:
    """Records the waits instead of waiting them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_retry_waits_jittered_delays_until_the_call_succeeds() -> None:
    call, sleeps = Flaky(3, ConnectionError("down")), Sleeps()
    seen: list[tuple[int, str, float]] = []
    result = await retry(
        call,
        backoff=Backoff(1.0, 3.0, rng=random.Random(5)),
        retry_if=lambda e: isinstance(e, ConnectionError),
        on_retry=lambda attempt, error, wait: seen.append((attempt, str(error), wait)),
        sleep=sleeps,
    )
    assert result == "ok" and call.calls == 4
    assert [attempt for attempt, _, _ in seen] == [1, 2, 3]
    assert [wait for *_, wait in seen] == sleeps.waits
    assert all(w <= c for w, c in zip(sleeps.waits, [1.0, 2.0, 3.0], strict=True))


async def test_retry_gives_up_after_its_attempts_with_the_last_error() -> None:
    call, sleeps = Flaky(10, ConnectionError("still down")), Sleeps()
    with pytest.raises(ConnectionError, match="still down"):
        await retry(call, backoff=Backoff(), retry_if=lambda e: True, attempts=3, sleep=sleeps)
    assert call.calls == 3 and len(sleeps.waits) == 2


async def test_retry_raises_at_once_what_it_must_not_retry() -> None:
    call, sleeps = Flaky(1, ValueError("bad input")), Sleeps()
    with pytest.raises(ValueError, match="bad input"):
        await retry(
            call,
            backoff=Backoff(),
            retry_if=lambda e: isinstance(e, ConnectionError),
            sleep=sleeps,
        )
    assert call.calls == 1 and sleeps.waits == []
    with pytest.raises(ValueError, match="attempts"):
        await retry(call, backoff=Backoff(), retry_if=lambda e: True, attempts=0)
