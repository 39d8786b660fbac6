"""Bucket widths and which rollup rows a time range reads.

Every rollup bucket starts on a UTC boundary of its width (minutes, quarter hours, hours,
midnights, Monday midnights; the same on both dialects: TimescaleDB's buckets count
from Monday 2000-01-03, which is also a minute, quarter-hour, hour and day boundary). A
range [start, end) reads the buckets that start inside it, so a range that is not
aligned to the width is widened to the bucket edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Final

ORIGIN: Final = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday


class Width(Enum):
    """Bucket widths, in seconds."""

    MINUTE = 60
    FIFTEEN_MINUTES = 900
    HOUR = 3600
    DAY = 86400
    WEEK = 604800

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.value)

    @property
    def sql(self) -> str:
        """As a PostgreSQL interval literal."""
        names = {60: "1 minute", 900: "15 minutes", 3600: "1 hour", 86400: "1 day"}
        return names.get(self.value, "7 days")

    def bin(self, column: str) -> str:
        """SQL: the start of the bucket holding `column` (as TimescaleDB buckets it)."""
        return f"date_bin(INTERVAL '{self.sql}', {column}, TIMESTAMPTZ '2000-01-03')"


def floor(moment: datetime, width: Width) -> datetime:
    """The start of the bucket holding `moment`."""
    seconds = (moment - ORIGIN) // timedelta(microseconds=1) // 1_000_000
    return ORIGIN + timedelta(seconds=seconds - seconds % width.value)


def ceil(moment: datetime, width: Width) -> datetime:
    """The first bucket start at or after `moment`."""
    start = floor(moment, width)
    return start if start == moment else start + width.delta


def starts(start: datetime, end: datetime, width: Width) -> list[datetime]:
    """The starts of the buckets that start in [start, end)."""
    out: list[datetime] = []
    moment = ceil(start, width)
    while moment < end:
        out.append(moment)
        moment += width.delta
    return out


@dataclass(frozen=True)
class Segment:
    """Rows of the `width` rollup whose bucket starts in [start, end)."""

    width: Width
    start: datetime
    end: datetime


def cover(start: datetime, end: datetime, widths: tuple[Width, ...]) -> list[Segment]:
    """The fewest rollup rows that hold exactly the buckets of the finest of `widths`
    starting in [start, end): whole coarse buckets in the middle, finer ones at the edges.
    `widths` go from coarse to fine, each a multiple of the next."""
    finest = widths[-1]
    lo, hi = ceil(start, finest), ceil(end, finest)
    return _cover(lo, hi, widths)


def _cover(lo: datetime, hi: datetime, widths: tuple[Width, ...]) -> list[Segment]:
    if lo >= hi:
        return []
    width, finer = widths[0], widths[1:]
    if not finer:
        return [Segment(width, lo, hi)]
    a, b = ceil(lo, width), floor(hi, width)
    if a >= b:
        return _cover(lo, hi, finer)
    return [*_cover(lo, a, finer), Segment(width, a, b), *_cover(b, hi, finer)]
