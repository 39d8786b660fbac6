"""Retry delays: exponential backoff with full jitter, capped, and an async `retry` helper.

delay(n) is drawn uniformly from [0, min(max_s, initial_s * multiplier**n)], where n
counts consecutive failures (0 for the first). Full jitter spreads the retries of many
clients that lost the same thing at once (cameras behind one switch, every ingest
consumer when the database restarts) instead of having them retry in lockstep.

Two ways to use it:

- a retry loop that keeps its own state: `backoff.next_delay()` after each failure,
  `backoff.reset()` after a success;
- one operation retried until it succeeds: `await retry(call, backoff=..., retry_if=...)`,
  which counts its own attempts, so one `Backoff` can serve concurrent calls.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Self, TypeVar

from pydantic import Field, model_validator

from trinetra.settings import ConfigModel

__all__ = ["Backoff", "BackoffConfig", "OnRetry", "retry"]

T = TypeVar("T")

# Called before each wait: (attempt that failed, 1-based; its error; the wait in seconds).
OnRetry = Callable[[int, Exception, float], None]

# Beyond this exponent every ceiling is the cap anyway; stopping here avoids float
# overflow in multiplier**n after a very long outage.
_MAX_EXPONENT = 64


class BackoffConfig(ConfigModel):
    """Retry delays as configuration: exponential growth with full jitter, capped."""

    initial_s: float = Field(
        1.0, gt=0, le=60, description="Upper bound of the first retry delay, seconds."
    )
    max_s: float = Field(30.0, gt=0, le=600, description="Cap on any retry delay, seconds.")
    multiplier: float = Field(
        2.0, ge=1.0, le=10.0, description="Growth of the delay bound per failed attempt."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_s < self.initial_s:
            raise ValueError("max_s must be >= initial_s")
        return self


class Backoff:
    """Full-jitter exponential backoff (module docs). Pass a seeded `rng` for
    reproducible delays."""

    def __init__(
        self,
        initial_s: float = 1.0,
        max_s: float = 30.0,
        multiplier: float = 2.0,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s or multiplier < 1:
            raise ValueError("need 0 < initial_s <= max_s and multiplier >= 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.multiplier = multiplier
        self._rng = rng if rng is not None else random.Random()
        self._failures = 0

    @classmethod
    def from_config(cls, config: BackoffConfig, rng: random.Random | None = None) -> Backoff:
        return cls(config.initial_s, config.max_s, config.multiplier, rng=rng)

    def ceiling(self, attempt: int) -> float:
        """The largest delay after `attempt` (0-based) consecutive failures."""
        exponent = min(max(attempt, 0), _MAX_EXPONENT)
        return min(self.max_s, self.initial_s * self.multiplier**exponent)

    def delay(self, attempt: int) -> float:
        """A delay drawn for failure number `attempt` (0-based); does not count it."""
        return self._rng.uniform(0.0, self.ceiling(attempt))

    @property
    def failures(self) -> int:
        """Failures counted by `next_delay` since the last `reset`."""
        return self._failures

    def next_delay(self) -> float:
        """Count one more consecutive failure and draw the delay before the next try."""
        drawn = self.delay(self._failures)
        self._failures += 1
        return drawn

    def reset(self) -> None:
        """A success: the next failure waits at most `initial_s` again."""
        self._failures = 0


async def retry(
    call: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    retry_if: Callable[[Exception], bool],
    attempts: int | None = None,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Await `call()` until it returns; after a failure that `retry_if` accepts, wait a
    jittered delay and try again. `attempts` bounds the tries (None: until success);
    the last failure, or one `retry_if` refuses, is raised as it is. Cancellation is
    never retried."""
    if attempts is not None and attempts < 1:
        raise ValueError("attempts must be >= 1")
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as error:
            attempt += 1
            if not retry_if(error) or (attempts is not None and attempt >= attempts):
                raise
            wait_s = backoff.delay(attempt - 1)
            if on_retry is not None:
                on_retry(attempt, error, wait_s)
        await sleep(wait_s)
