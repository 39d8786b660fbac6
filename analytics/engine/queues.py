"""Queue analytics for queue zones: length, service interval, estimated wait, abandonment.

- Length is the queue zone's occupancy (hysteresis-confirmed, see `zones`).
- A *departure* is a track leaving the queue zone by walking out of it (stays closed by
  a track ending or a configuration change say nothing about service and are ignored).
  It is a *service* if the track enters one of the queue's checkout zones, before the
  departure (overlapping zones) or within `queue_abandon_after_s` after it, and an
  *abandonment* if it does not. A queue with no checkout zone on its camera counts every
  departure as a service (it cannot tell).
- The service interval of a served customer is the time from when they became "next"
  to their departure: from the previous served departure, or from their own arrival if
  the queue was empty then, i.e. interval_k = depart_k - max(depart_{k-1}, arrive_k).
  Idle checkout time never enters it (nobody was waiting), and it needs no knowledge of
  the number of tills.
- Estimated wait = length x median of the last `queue_service_samples` intervals within
  `queue_service_window_s`: the people ahead of you, each taking a typical service
  interval (Little's law with the observed departure rate). The median, not the mean,
  so one customer arguing about a refund does not double the estimate.
- `QueueSnapshot` is emitted every `queue_snapshot_interval_s` of frame time, on the
  first frame at or after each multiple of the interval, so replays are identical.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from analytics.engine.events import (
    EngineEvent,
    JsonValue,
    QueueAbandoned,
    QueueSnapshot,
    ZoneEntered,
    ZoneExited,
)
from analytics.engine.zones import to_datetime


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue zone and the checkout zones serving it (same camera)."""

    zone_id: str
    checkout_zone_ids: frozenset[str]
    wait_threshold_s: float | None


def median(values: Sequence[float]) -> float | None:
    """Median (mean of the middle two for an even count); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0


class QueueState:
    """The running figures of one queue zone."""

    __slots__ = ("abandoned", "info", "pending", "served", "served_log")

    def __init__(self, info: QueueInfo) -> None:
        self.info = info
        # served departures (depart, arrive), sorted by departure; kept for intervals
        self.served: list[tuple[float, float]] = []
        self.served_log: deque[float] = deque()  # departure times, for the window count
        self.abandoned: deque[float] = deque()
        # departed, not yet served or abandoned: track -> (depart, arrive, visit id)
        self.pending: dict[int, tuple[float, float, str | None]] = {}

    def record_service(self, depart: float, arrive: float, keep: int) -> None:
        bisect.insort(self.served, (depart, arrive))
        if len(self.served) > keep + 1:
            del self.served[: len(self.served) - keep - 1]
        self.served_log.append(depart)

    def intervals(self, since: float) -> list[float]:
        out = []
        for k in range(1, len(self.served)):
            depart, arrive = self.served[k]
            if depart >= since:
                out.append(max(0.0, depart - max(self.served[k - 1][0], arrive)))
        return out

    def waits(self, since: float) -> list[float]:
        return [depart - arrive for depart, arrive in self.served if depart >= since]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "served": [[d, a] for d, a in self.served],
            "served_log": list(self.served_log),
            "abandoned": list(self.abandoned),
            "pending": [[tid, d, a, v] for tid, (d, a, v) in self.pending.items()],
        }

    def load(self, data: dict[str, JsonValue]) -> None:
        served = data["served"]
        served_log = data["served_log"]
        abandoned = data["abandoned"]
        pending = data["pending"]
        assert isinstance(served, list) and isinstance(served_log, list)
        assert isinstance(abandoned, list) and isinstance(pending, list)
        self.served = [(_num(p[0]), _num(p[1])) for p in map(_pair, served)]
        self.served_log = deque(_num(v) for v in served_log)
        self.abandoned = deque(_num(v) for v in abandoned)
        self.pending = {}
        for row in pending:
            assert isinstance(row, list)
            tid, d, a, v = row
            assert isinstance(tid, int) and (v is None or isinstance(v, str))
            self.pending[tid] = (_num(d), _num(a), v)


def _pair(value: JsonValue) -> list[JsonValue]:
    assert isinstance(value, list) and len(value) == 2
    return value


def _num(value: JsonValue) -> float:
    assert isinstance(value, int | float) and not isinstance(value, bool)
    return float(value)


class QueueMonitor:
    """All queue zones of one camera."""

    def __init__(
        self,
        camera_id: str,
        queues: Sequence[QueueInfo],
        service_samples: int,
        service_window_s: float,
        abandon_after_s: float,
        snapshot_interval_s: float,
    ) -> None:
        self.camera_id = camera_id
        self.service_samples = service_samples
        self.window = service_window_s
        self.abandon_after = abandon_after_s
        self.interval = snapshot_interval_s
        self.config_version = 0
        self.queues: dict[str, QueueState] = {q.zone_id: QueueState(q) for q in queues}
        self.next_snapshot: float | None = None
        # (track, service zone) -> when that track last entered it
        self._service_entries: dict[tuple[int, str], float] = {}
        self._service_zones: frozenset[str] = frozenset()
        self._by_service: dict[str, tuple[QueueState, ...]] = {}
        self._index()

    def _index(self) -> None:
        by_service: dict[str, list[QueueState]] = {}
        for state in self.queues.values():
            for zone_id in sorted(state.info.checkout_zone_ids):
                by_service.setdefault(zone_id, []).append(state)
        self._by_service = {k: tuple(v) for k, v in by_service.items()}
        self._service_zones = frozenset(by_service)

    def reconfigure(self, queues: Sequence[QueueInfo]) -> None:
        """New queue list: queues that remain keep their history."""
        old = self.queues
        self.queues = {}
        for info in queues:
            state = old.get(info.zone_id) or QueueState(info)
            state.info = info
            self.queues[info.zone_id] = state
        self._index()

    @property
    def active(self) -> bool:
        return bool(self.queues)

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        """Consume one frame's zone events (others are ignored)."""
        for event in events:
            if isinstance(event, ZoneEntered):
                if event.zone_id in self._service_zones:
                    t = event.entered_at.timestamp()
                    self._service_entries[(event.track_id, event.zone_id)] = t
                    for state in self._by_service[event.zone_id]:
                        pending = state.pending.pop(event.track_id, None)
                        if pending is not None:
                            state.record_service(pending[0], pending[1], self.service_samples)
            elif isinstance(event, ZoneExited):
                queue = self.queues.get(event.zone_id)
                if queue is None or event.reason != "exited":
                    continue
                depart = event.exited_at.timestamp()
                arrive = event.entered_at.timestamp()
                checkouts = queue.info.checkout_zone_ids
                if not checkouts or any(
                    self._service_entries.get((event.track_id, z), -math.inf) >= arrive
                    for z in checkouts
                ):
                    queue.record_service(depart, arrive, self.service_samples)
                else:
                    queue.pending[event.track_id] = (depart, arrive, event.visit_id)

    def track_ended(self, track_id: int) -> None:
        """Forget a track's checkout entries (pending departures still run their course)."""
        for key in [k for k in self._service_entries if k[0] == track_id]:
            del self._service_entries[key]

    def tick(
        self, t: float, at: datetime, length: Callable[[str], int], out: list[EngineEvent]
    ) -> None:
        """Abandonments that fell due, then a snapshot per queue when one is due."""
        for zone_id, state in self.queues.items():
            if not state.pending:
                continue
            due = [tid for tid, p in state.pending.items() if t - p[0] >= self.abandon_after]
            for tid in due:
                depart, arrive, visit_id = state.pending.pop(tid)
                state.abandoned.append(depart)
                out.append(
                    QueueAbandoned(
                        at=at,
                        config_version=self.config_version,
                        camera_id=self.camera_id,
                        zone_id=zone_id,
                        track_id=tid,
                        visit_id=visit_id,
                        left_at=to_datetime(depart),
                        waited_s=depart - arrive,
                    )
                )
        if self.next_snapshot is not None and t < self.next_snapshot:
            return
        self.next_snapshot = (math.floor(t / self.interval) + 1) * self.interval
        since = t - self.window
        for zone_id, state in self.queues.items():
            while state.served_log and state.served_log[0] < since:
                state.served_log.popleft()
            while state.abandoned and state.abandoned[0] < since:
                state.abandoned.popleft()
            service = median(state.intervals(since))
            n = length(zone_id)
            wait = None if service is None else n * service
            threshold = state.info.wait_threshold_s
            out.append(
                QueueSnapshot(
                    at=at,
                    config_version=self.config_version,
                    camera_id=self.camera_id,
                    zone_id=zone_id,
                    length=n,
                    median_service_s=service,
                    estimated_wait_s=wait,
                    observed_wait_s=median(state.waits(since)),
                    served=len(state.served_log),
                    abandoned=len(state.abandoned),
                    over_wait_threshold=(
                        threshold is not None and wait is not None and wait > threshold
                    ),
                )
            )

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "next_snapshot": self.next_snapshot,
            "queues": {zone_id: state.to_json() for zone_id, state in self.queues.items()},
            "service_entries": [[tid, z, t] for (tid, z), t in self._service_entries.items()],
        }

    def load(self, data: dict[str, JsonValue]) -> None:
        next_snapshot = data["next_snapshot"]
        queues = data["queues"]
        entries = data["service_entries"]
        assert next_snapshot is None or isinstance(next_snapshot, int | float)
        assert isinstance(queues, dict) and isinstance(entries, list)
        self.next_snapshot = None if next_snapshot is None else float(next_snapshot)
        for zone_id, value in queues.items():
            state = self.queues.get(zone_id)
            if state is not None and isinstance(value, dict):
                state.load(value)
        self._service_entries = {}
        for row in entries:
            assert isinstance(row, list)
            tid, z, t = row
            assert isinstance(tid, int) and isinstance(z, str)
            self._service_entries[(tid, z)] = _num(t)
