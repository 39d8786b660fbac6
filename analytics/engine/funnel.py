"""Conversion funnels over completed visits.

A visit reaches stage i when it reached stage i - 1 and then, at or after that moment,
did what stage i asks: entered the store (an entry-line crossing "in"), entered one of
the listed zones, or entered a zone of the given kind. Stages are matched greedily on
the *earliest* qualifying entry, which gives each visit the furthest stage it can reach
and the shortest honest time between stages. Zone stages look at when a stay began:
someone already standing at the checkout when they "enter the store" (a camera seeing the
door late) does not count as having gone from entry to checkout.

Conversion is reported against the visits that reached the first stage (the funnel's
population) and against the previous stage; both are None where the base is zero.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from analytics.engine.events import VisitRecord
from trinetra.config.analytics import FunnelDefinition, FunnelStage, StoreEntryStage, ZoneStage


def _stage_time(stage: FunnelStage, visit: VisitRecord, after: datetime | None) -> datetime | None:
    if isinstance(stage, StoreEntryStage):
        entered = visit.entered_at
        if entered is None or (after is not None and entered < after):
            return None
        return entered
    best: datetime | None = None
    if isinstance(stage, ZoneStage):
        wanted = set(stage.zone_ids)
        candidates = (s.entered_at for s in visit.stays if s.zone_id in wanted)
    else:
        kind = stage.zone_kind.value
        candidates = (s.entered_at for s in visit.stays if s.zone_kind == kind)
    for entered in candidates:
        if (after is None or entered >= after) and (best is None or entered < best):
            best = entered
    return best


def stage_times(funnel: FunnelDefinition, visit: VisitRecord) -> tuple[datetime, ...]:
    """When the visit reached each stage, for the stages it reached (a prefix)."""
    times: list[datetime] = []
    after: datetime | None = None
    for stage in funnel.stages:
        reached = _stage_time(stage, visit, after)
        if reached is None:
            break
        times.append(reached)
        after = reached
    return tuple(times)


def stages_reached(funnel: FunnelDefinition, visit: VisitRecord) -> int:
    """How many stages (from the first) the visit reached."""
    return len(stage_times(funnel, visit))


@dataclass(frozen=True, slots=True)
class FunnelStageStats:
    """One stage's figures. Times are from reaching the previous stage (None for the
    first stage and where no visit reached it)."""

    index: int
    reached: int
    conversion_from_start: float | None
    conversion_from_previous: float | None
    median_s_from_previous: float | None
    mean_s_from_previous: float | None


@dataclass(frozen=True, slots=True)
class FunnelReport:
    """A funnel evaluated over a set of visits."""

    funnel_id: str
    visits: int
    stages: tuple[FunnelStageStats, ...]


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def evaluate(funnel: FunnelDefinition, visits: Sequence[VisitRecord]) -> FunnelReport:
    """Stage reached per visit, conversion per stage, time between stages."""
    n = len(funnel.stages)
    reached = [0] * n
    gaps: list[list[float]] = [[] for _ in range(n)]
    for visit in visits:
        times = stage_times(funnel, visit)
        for i, at in enumerate(times):
            reached[i] += 1
            if i:
                gaps[i].append((at - times[i - 1]).total_seconds())
    stats = []
    for i in range(n):
        g = gaps[i]
        stats.append(
            FunnelStageStats(
                index=i,
                reached=reached[i],
                conversion_from_start=_ratio(reached[i], reached[0]),
                conversion_from_previous=_ratio(reached[i], reached[i - 1]) if i else None,
                median_s_from_previous=statistics.median(g) if g else None,
                mean_s_from_previous=math.fsum(g) / len(g) if g else None,
            )
        )
    return FunnelReport(funnel_id=funnel.id, visits=len(visits), stages=tuple(stats))
