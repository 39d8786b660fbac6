"""Hourly footfall of one line against the same weekday-hour of previous weeks (the
statistics are documented with the rule, trinetra/config/alerts.py). Pure.

`HourlyFootfall` keeps the open hour's count and the counts of past hours, by local-hour
key, for as many weeks as the baseline needs; an hour enters the history only if the
line's camera was heard from during it (a camera that was down did not see zero people).
It answers two questions: how unusual the open hour's count already is (`judge_open`,
only "too high" can be known early, since a count only grows), and how unusual a
closed hour was (`judge`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from analytics.alerts.hours import LocalHour, local_hour
from analytics.engine.events import JsonValue
from trinetra.config.alerts import FootfallAnomalyRule

__all__ = ["HourlyFootfall", "Judgement"]


@dataclass(frozen=True, slots=True)
class Judgement:
    """How one hour's count compares with its baseline."""

    count: int
    mean: float
    sigma: float
    z: float
    samples: int
    anomalous: bool
    bound: float  # the edge of the normal band on the count's side: mean +- k sigma


class HourlyFootfall:
    """Counts of one line per local hour (module docs)."""

    __slots__ = ("_history", "_rule", "_zone", "count", "hour", "observed")

    def __init__(self, rule: FootfallAnomalyRule) -> None:
        self._rule = rule
        self._zone = ZoneInfo(rule.timezone)
        self._history: dict[str, int] = {}
        self.hour: LocalHour | None = None
        self.count = 0
        self.observed = False

    @property
    def rule(self) -> FootfallAnomalyRule:
        return self._rule

    def with_rule(self, rule: FootfallAnomalyRule) -> HourlyFootfall:
        """The same counts under a changed rule; a change of line, direction or time zone
        changes what was counted, so it starts over."""
        same = (rule.line_id, rule.direction, rule.timezone) == (
            self._rule.line_id,
            self._rule.direction,
            self._rule.timezone,
        )
        if not same:
            return HourlyFootfall(rule)
        self._rule = rule
        return self

    def counts(self, direction: str) -> bool:
        return self._rule.direction in ("both", direction)

    def open_hour(self, t: float) -> None:
        """Start counting the hour that contains t (the previous one must be closed)."""
        self.hour = local_hour(t, self._zone)
        self.count = 0
        self.observed = False

    def close_hour(self) -> tuple[LocalHour, int, bool]:
        """End the open hour: it enters the history if it was observed. Returns the
        hour, its count and whether it was observed."""
        assert self.hour is not None
        hour, count, observed = self.hour, self.count, self.observed
        if observed:
            self._history[hour.key] = self._history.get(hour.key, 0) + count
        self._prune(hour)
        self.hour = None
        return hour, count, observed

    def _prune(self, hour: LocalHour) -> None:
        # Every hour of the last baseline_weeks weeks is some later hour's baseline; only
        # older ones go. Keys sort chronologically ('YYYY-MM-DDTHH').
        oldest = hour.weeks_before(self._rule.baseline_weeks)
        for key in [k for k in self._history if k < oldest]:
            del self._history[key]

    def baseline(self, hour: LocalHour) -> list[int]:
        """The counts of the same weekday-hour in the previous weeks that were observed."""
        keys = (hour.weeks_before(k) for k in range(1, self._rule.baseline_weeks + 1))
        return [self._history[key] for key in keys if key in self._history]

    def judge(self, hour: LocalHour, count: int) -> Judgement | None:
        """How unusual `count` is for `hour`; None without enough history."""
        samples = self.baseline(hour)
        if len(samples) < self._rule.min_history_weeks:
            return None
        mean = statistics.fmean(samples)
        spread = statistics.stdev(samples) if len(samples) >= 2 else 0.0
        sigma = max(spread, self._rule.min_sigma)
        z = (count - mean) / sigma
        k = self._rule.z_threshold
        bound = mean + math.copysign(k * sigma, z)
        return Judgement(count, mean, sigma, z, len(samples), abs(z) >= k, bound)

    def judge_open(self) -> Judgement | None:
        """The open hour so far: anomalous only if already too high (module docs)."""
        if self.hour is None:
            return None
        judged = self.judge(self.hour, self.count)
        if judged is None or judged.z < self._rule.z_threshold:
            return None
        return judged

    # --- snapshot ---------------------------------------------------------------------

    def to_json(self) -> dict[str, JsonValue]:
        hour: JsonValue = None
        if self.hour is not None:
            hour = {"start": self.hour.start}
        return {
            "history": dict(self._history),
            "hour": hour,
            "count": self.count,
            "observed": self.observed,
        }

    @classmethod
    def from_json(cls, rule: FootfallAnomalyRule, data: dict[str, JsonValue]) -> HourlyFootfall:
        footfall = cls(rule)
        history = data.get("history")
        if isinstance(history, dict):
            footfall._history = {str(k): int(v) for k, v in history.items() if isinstance(v, int)}
        hour = data.get("hour")
        if isinstance(hour, dict) and isinstance(hour.get("start"), int | float):
            start = hour["start"]
            assert isinstance(start, int | float)
            footfall.hour = local_hour(float(start), footfall._zone)
        count = data.get("count")
        footfall.count = count if isinstance(count, int) else 0
        footfall.observed = data.get("observed") is True
        return footfall
