"""Reconnect delays: exponential backoff with full jitter.

delay(n) is drawn uniformly from [0, min(max_s, initial_s * multiplier**n)], where n
counts consecutive failures. Full jitter spreads the reconnects of many cameras that
lost the same switch or NVR, instead of having them all retry in lockstep.
"""

from __future__ import annotations

import random

from trinetra.config.camera import BackoffConfig

__all__ = ["Backoff"]


class Backoff:
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

    @classmethod
    def from_config(cls, config: BackoffConfig, rng: random.Random | None = None) -> Backoff:
        return cls(config.initial_s, config.max_s, config.multiplier, rng=rng)

    def ceiling(self, attempt: int) -> float:
        """The largest delay after `attempt` (0-based) consecutive failures."""
        # Capping the exponent avoids float overflow for very long outages.
        exponent = min(max(attempt, 0), 64)
        return min(self.max_s, self.initial_s * self.multiplier**exponent)

    def delay(self, attempt: int) -> float:
        return self._rng.uniform(0.0, self.ceiling(attempt))
