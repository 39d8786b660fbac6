"""Local-time arithmetic for the rules: a daily window ("staff on shift 08:00-22:00") and
the hours of a day, in a store's time zone. Pure; times are POSIX seconds.

Local times are resolved with zoneinfo, so daylight-saving changes are handled: a
window opens at its wall-clock time on each local day, and an hour is a wall-clock hour
(the hour a spring-forward skips does not exist; the repeated autumn hour comes twice
and shares one key, so its counts add up).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from trinetra.config.alerts import DailyHours

__all__ = ["DailyWindow", "LocalHour", "local_hour"]


class DailyWindow:
    """`DailyHours` as a predicate on instants, plus the instants where it flips."""

    __slots__ = ("_end", "_start", "_zone")

    def __init__(self, hours: DailyHours) -> None:
        self._zone = ZoneInfo(hours.timezone)
        self._start = hours.start
        self._end = hours.end

    def contains(self, t: float) -> bool:
        now = datetime.fromtimestamp(t, self._zone).time()
        if self._start < self._end:
            return self._start <= now < self._end
        return now >= self._start or now < self._end  # spans midnight

    def flips(self, after: float, until: float) -> Iterator[float]:
        """Instants in (after, until] where `contains` changes, in order."""
        if until <= after:
            return
        day = datetime.fromtimestamp(after, self._zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(until, self._zone).date()
        while day <= last:
            for moment in sorted((self._at(day, self._start), self._at(day, self._end))):
                if after < moment <= until:
                    yield moment
            day += timedelta(days=1)

    def _at(self, day: date, clock: time) -> float:
        return datetime.combine(day, clock, tzinfo=self._zone).timestamp()


class LocalHour:
    """One wall-clock hour in a time zone: [start, end) as instants, and its key."""

    __slots__ = ("day", "end", "hour", "start")

    def __init__(self, start: float, end: float, day: date, hour: int) -> None:
        self.start = start
        self.end = end
        self.day = day
        self.hour = hour

    @property
    def key(self) -> str:
        """'YYYY-MM-DDTHH' in local time: what baselines are looked up by."""
        return f"{self.day.isoformat()}T{self.hour:02d}"

    def weeks_before(self, weeks: int) -> str:
        """The key of the same weekday and hour `weeks` weeks earlier."""
        return f"{(self.day - timedelta(weeks=weeks)).isoformat()}T{self.hour:02d}"


def local_hour(t: float, zone: ZoneInfo) -> LocalHour:
    """The wall-clock hour of `zone` that contains instant t."""
    local = datetime.fromtimestamp(t, zone)
    start_local = local.replace(minute=0, second=0, microsecond=0)
    start = start_local.timestamp()
    # Absolute hours: the next hour starts 3600 s later, whatever the wall clock does.
    # Zones with a half-hour offset still have whole-hour steps, since the offset is fixed
    # within the hour.
    end = start + 3600.0
    return LocalHour(start, end, start_local.date(), start_local.hour)


def utc(t: float) -> datetime:
    """Instant t as an aware UTC datetime, at microsecond resolution."""
    return datetime.fromtimestamp(round(t, 6), UTC)
