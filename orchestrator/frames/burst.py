"""Burst suppression: a token bucket per camera.

IP cameras deliver frames unevenly (a keyframe burst after a stall, a reconnect flushing a
buffer). The bucket lets `burst` frames through back to back, then holds the long-run
rate at `rate` frames per second. This is rate shaping to the configured target_fps and
applies to every tier; overload shedding by tier is the adaptive sampler's job.
"""

from __future__ import annotations

from orchestrator.frames.clock import Clock, monotonic

__all__ = ["BurstSuppressor"]


class BurstSuppressor:
    """Token bucket: `allow()` spends a token when one is available. Not thread-safe: use
    one per camera, from one thread."""

    def __init__(
        self,
        rate: float,
        burst: float = 5.0,
        *,
        clock: Clock = monotonic,
        initial_tokens: float | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1 (a bucket smaller than a frame passes none)")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst if initial_tokens is None else min(initial_tokens, burst)
        self._last = clock()

    @property
    def tokens(self) -> float:
        return self._tokens

    def _refill(self, now: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:  # a clock that stalls or steps back refills nothing
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._last = now

    def allow(self, now: float | None = None) -> bool:
        """True (and one token spent) if a frame may pass at `now` (default: the clock)."""
        self._refill(self._clock() if now is None else now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
