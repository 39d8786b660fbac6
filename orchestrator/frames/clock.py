"""Injectable clocks, so rate and time-gap logic is deterministic under test."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "ManualClock", "monotonic"]

Clock = Callable[[], float]
"""Returns seconds on a monotonic scale (time.monotonic in production)."""

monotonic: Clock = time.monotonic


class ManualClock:
    """A clock that only moves when told to (tests and simulations)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        self.now += seconds
        return self.now
