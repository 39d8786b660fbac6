"""What a finite labelled set can claim about error rates: exact (Clopper-Pearson)
binomial bounds, stdlib only.

With n impostor pairs and k false accepts the one-sided upper bound of the false-accept
rate at confidence c is the p for which P(X <= k | n, p) = 1 - c. For k = 0 it is
1 - (1 - c)^(1/n), about 3/n at 95% (the "rule of three"): 2,000 impostor pairs without a
false accept show FAR <= 1.5e-3, nothing smaller; claiming 1e-5 needs about 300,000.
"""

from __future__ import annotations

import math
from typing import Final

_BISECTIONS: Final = 200


def _log_binomial_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, math.fsum(math.exp(_log_binomial_pmf(i, n, p)) for i in range(k + 1)))


def _check(k: int, n: int, confidence: float) -> None:
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen k times in n trials."""
    _check(k, n, confidence)
    if k == n:
        return 1.0
    alpha = 1.0 - confidence
    if k == 0:
        return -math.expm1(math.log(alpha) / n)
    low, high = k / n, 1.0
    for _ in range(_BISECTIONS):  # binomial_cdf falls as p grows
        mid = (low + high) / 2
        if binomial_cdf(k, n, mid) > alpha:
            low = mid
        else:
            high = mid
    return high


def lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound of a rate seen k times in n trials."""
    _check(k, n, confidence)
    if k == 0:
        return 0.0
    return 1.0 - upper_bound(n - k, n, confidence)


def interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval at `confidence` (each side (1 - c) / 2)."""
    _check(k, n, confidence)
    side = 1.0 - (1.0 - confidence) / 2
    return lower_bound(k, n, side), upper_bound(k, n, side)


def trials_needed(rate: float, confidence: float = 0.95) -> int:
    """Trials without a single event needed before `rate` is the upper bound."""
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    _check(0, 1, confidence)
    return math.ceil(math.log(1.0 - confidence) / math.log1p(-rate))
