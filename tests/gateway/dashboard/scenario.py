"""A small store day for the dashboard tests: one camera's zones, lines and funnel, and
analytics events with known figures (crossings, occupancy, stays, a queue, a heatmap),
published through JetStream like the analytics service publishes them; the gateway
joins the stays and crossings of each track into its journey."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from tests.gateway.helpers import STORE, RunningGateway
from trinetra.events.schema import (
    AnalyticsEvent,
    HeatmapGridEvent,
    LineCrossedEvent,
    QueueSnapshotEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
    make_track_uid,
)

CAMERA: Final = "entrance-1"
VERSION: Final = 1  # the events' config_version (the figures do not depend on it)

ZONES: Final = (
    {
        "id": "plaza",
        "camera_id": CAMERA,
        "name": "Plaza",
        "kind": "area",
        "polygon": [[0.01, 0.30], [0.48, 0.30], [0.48, 0.60], [0.01, 0.45]],
        "capacity": 12,
    },
    {
        "id": "kiosk-queue",
        "camera_id": CAMERA,
        "name": "Kiosk queue",
        "kind": "queue",
        "polygon": [[0.52, 0.26], [0.69, 0.26], [0.69, 0.58], [0.52, 0.58]],
        "capacity": 6,
        "wait_threshold_s": 60,
    },
)
LINES: Final = (
    {
        "id": "entrance",
        "camera_id": CAMERA,
        "name": "Entrance",
        "a": [0.7005, 0.18],
        "b": [0.7005, 0.82],
        "in_side": "right",
        "counts_store_entry": True,
    },
    {
        "id": "lawn-path",
        "camera_id": CAMERA,
        "name": "Lawn path",
        "a": [0.1, 0.8],
        "b": [0.5, 0.8],
        "in_side": "left",
    },
)
FUNNEL: Final = {
    "id": "entry-to-queue",
    "name": "Entered, plaza, queue",
    "stages": [
        {"kind": "store_entry"},
        {"kind": "zone", "zone_ids": ["plaza"]},
        {"kind": "zone_kind", "zone_kind": "queue"},
    ],
}

CONFIG_FIELDS: Final = """version
  zones { id cameraId name kind polygon capacity }
  lines { id cameraId name points inSide countsStoreEntry }
  funnels { id name }"""


async def configure(gateway: RunningGateway) -> dict[str, Any]:
    """The zones, lines and funnel, through the config mutations; the last config."""
    config: dict[str, Any] = {}
    for mutation, argument, items in (
        ("putZone", "zone", ZONES),
        ("putLine", "line", LINES),
        ("putFunnel", "funnel", (FUNNEL,)),
    ):
        for item in items:
            data = await gateway.data(
                f"mutation ($item: JSON!) {{ {mutation}({argument}: $item)"
                f" {{ {CONFIG_FIELDS} }} }}",
                {"item": item},
                scopes=("operator",),
            )
            config = data[mutation]
    return config


def _common(at: datetime) -> dict[str, Any]:
    return {"camera_id": CAMERA, "store_id": STORE, "occurred_at": at, "config_version": VERSION}


def uid(track_id: int, base: datetime) -> uuid.UUID:
    """The track's global id (a track's stays and crossings join into its journey by it)."""
    return make_track_uid(STORE, CAMERA, track_id, base)


def crossing(
    at: datetime,
    track_id: int,
    line_id: str,
    direction: Literal["in", "out"],
    store_entry: bool,
    track_uid: uuid.UUID | None = None,
) -> LineCrossedEvent:
    return LineCrossedEvent(
        **_common(at),
        track_id=track_id,
        track_uid=track_uid,
        line_id=line_id,
        direction=direction,
        crossed_at=at,
        counts_store_entry=store_entry,
    )


def occupancy(at: datetime, zone_id: str, count: int, previous: int) -> ZoneOccupancyEvent:
    capacity = 12 if zone_id == "plaza" else 6
    return ZoneOccupancyEvent(
        **_common(at),
        zone_id=zone_id,
        count=count,
        previous=previous,
        capacity=capacity,
        over_capacity=count > capacity,
    )


def queue(at: datetime, length: int, wait_s: float) -> QueueSnapshotEvent:
    return QueueSnapshotEvent(
        **_common(at),
        zone_id="kiosk-queue",
        length=length,
        median_service_s=wait_s / max(length, 1),
        estimated_wait_s=wait_s,
        observed_wait_s=None,
        served=3,
        abandoned=1,
        over_wait_threshold=wait_s >= 60,
    )


def stay(
    entered: datetime, track_id: int, zone_id: str, dwell_s: float, track_uid: uuid.UUID
) -> ZoneExitedEvent:
    exited = entered + timedelta(seconds=dwell_s)
    return ZoneExitedEvent(
        **_common(exited),
        track_id=track_id,
        track_uid=track_uid,
        zone_id=zone_id,
        entered_at=entered,
        exited_at=exited,
        dwell_s=dwell_s,
        reason="exited",
    )


def heatmap(at: datetime) -> HeatmapGridEvent:
    minute = at.replace(second=0, microsecond=0)
    cols, rows = 4, 3
    person_seconds = tuple(float(i % 5) for i in range(cols * rows))
    return HeatmapGridEvent(
        **_common(minute),
        minute_start=minute,
        cols=cols,
        rows=rows,
        samples=tuple(int(v * 10) for v in person_seconds),
        person_seconds=person_seconds,
        flow_dx=(0.0,) * (cols * rows),
        flow_dy=(0.0,) * (cols * rows),
        flow_samples=(0,) * (cols * rows),
    )


def stored_day(base: datetime) -> list[AnalyticsEvent]:
    """What happened before the page opens (the last event 65 s after `base`):

    - three people enter through the store-entry line; #1 stays in the plaza 10 s and
      leaves through it again, #2 stays in the plaza 20 s then queues 40 s, #3 stays in
      the plaza 30 s: journeys entrance -> plaza (3), plaza -> exit (2), plaza -> queue
      (1), queue -> exit (1);
    - two crossings of the lawn path (a line that does not count store entry);
    - the zones' occupancy changes, two queue snapshots and a heatmap minute.
    """

    def t(seconds: float) -> datetime:
        return base + timedelta(seconds=seconds)

    one, two, three = (uid(track_id, base) for track_id in (1, 2, 3))
    return [
        crossing(t(0), 1, "entrance", "in", True, one),
        crossing(t(1), 2, "entrance", "in", True, two),
        crossing(t(2), 3, "entrance", "in", True, three),
        stay(t(3), 1, "plaza", 10.0, one),
        stay(t(4), 2, "plaza", 20.0, two),
        stay(t(5), 3, "plaza", 30.0, three),
        stay(t(25), 2, "kiosk-queue", 40.0, two),
        crossing(t(14), 1, "entrance", "out", True, one),
        crossing(t(15), 4, "lawn-path", "in", False),
        crossing(t(16), 5, "lawn-path", "out", False),
        occupancy(t(3), "plaza", 1, 0),
        occupancy(t(4), "plaza", 2, 1),
        occupancy(t(5), "plaza", 3, 2),
        occupancy(t(25), "kiosk-queue", 2, 0),
        queue(t(26), 2, 30.0),
        queue(t(27), 3, 45.0),
        heatmap(t(28)),
    ]
