"""Builders of analytics events (the ANALYTICS stream's schema) for the storage and API
tests, a publisher that ensures the ANALYTICS stream, and direct writes through the
gateway's own ingest writer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from gateway.config import IngestSettings
from gateway.db.database import Database
from gateway.ingest.writer import BatchWriter, Received, WriteResult
from tests.gateway.helpers import STORE, RunningGateway, running_gateway, settings, wait_schema
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    Event,
    HeatmapGridEvent,
    IdentityResolvedEvent,
    IdentityUnknownEvent,
    LineCrossedEvent,
    QueueAbandonedEvent,
    QueueSnapshotEvent,
    VisitEndedEvent,
    ZoneDwellExceededEvent,
    ZoneEnteredEvent,
    ZoneExitedEvent,
    ZoneOccupancyEvent,
    encode,
    make_track_uid,
    subject_for,
)
from trinetra.events.streams import ALL_STREAMS, ANALYTICS_STREAMS

VERSION = 1


def track_uid(camera: str, track_id: int, first_seen: datetime) -> uuid.UUID:
    return make_track_uid(STORE, camera, track_id, first_seen)


def crossing(
    camera: str,
    line: str,
    track_id: int,
    at: datetime,
    direction: str = "in",
    *,
    store_entry: bool = False,
    uid: uuid.UUID | None = None,
    committed_after_s: float = 0.2,
) -> LineCrossedEvent:
    return LineCrossedEvent.model_validate(
        {
            "camera_id": camera,
            "store_id": STORE,
            "occurred_at": at + timedelta(seconds=committed_after_s),
            "config_version": VERSION,
            "track_id": track_id,
            "track_uid": uid,
            "line_id": line,
            "direction": direction,
            "crossed_at": at,
            "counts_store_entry": store_entry,
        }
    )


def stay(
    camera: str,
    zone: str,
    track_id: int,
    entered: datetime,
    dwell_s: float,
    *,
    uid: uuid.UUID | None = None,
) -> ZoneExitedEvent:
    exited = entered + timedelta(seconds=dwell_s)
    return ZoneExitedEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=exited + timedelta(seconds=0.3),
        config_version=VERSION,
        track_id=track_id,
        track_uid=uid,
        zone_id=zone,
        entered_at=entered,
        exited_at=exited,
        dwell_s=dwell_s,
        reason="exited",
    )


def occupancy_change(
    camera: str, zone: str, at: datetime, count: int, previous: int, capacity: int | None = None
) -> ZoneOccupancyEvent:
    return ZoneOccupancyEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=at,
        config_version=VERSION,
        zone_id=zone,
        count=count,
        previous=previous,
        capacity=capacity,
        over_capacity=capacity is not None and count > capacity,
    )


def queue_snapshot(
    camera: str, zone: str, at: datetime, length: int, wait_s: float | None
) -> QueueSnapshotEvent:
    return QueueSnapshotEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=at,
        config_version=VERSION,
        zone_id=zone,
        length=length,
        median_service_s=None if wait_s is None or length == 0 else wait_s / length,
        estimated_wait_s=wait_s,
        observed_wait_s=None,
        served=0,
        abandoned=0,
        over_wait_threshold=False,
    )


def abandonment(camera: str, zone: str, track_id: int, left: datetime) -> QueueAbandonedEvent:
    return QueueAbandonedEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=left + timedelta(seconds=20),
        config_version=VERSION,
        track_id=track_id,
        zone_id=zone,
        left_at=left,
        waited_s=42.0,
    )


def heatmap_grid(
    camera: str,
    minute: datetime,
    cells: dict[int, float],
    *,
    cols: int = 4,
    rows: int = 3,
    flow: dict[int, tuple[float, float, int]] | None = None,
) -> HeatmapGridEvent:
    """A grid with person-seconds in `cells` (index -> seconds), flow (dx, dy, samples)."""
    n = cols * rows
    flow = flow or {}
    return HeatmapGridEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=minute + timedelta(seconds=60),
        config_version=VERSION,
        minute_start=minute,
        cols=cols,
        rows=rows,
        samples=tuple(int(cells.get(i, 0) * 10) for i in range(n)),
        person_seconds=tuple(cells.get(i, 0.0) for i in range(n)),
        flow_dx=tuple(flow.get(i, (0.0, 0.0, 0))[0] for i in range(n)),
        flow_dy=tuple(flow.get(i, (0.0, 0.0, 0))[1] for i in range(n)),
        flow_samples=tuple(flow.get(i, (0.0, 0.0, 0))[2] for i in range(n)),
    )


def zone_entered(camera: str, zone: str, track_id: int, at: datetime) -> ZoneEnteredEvent:
    return ZoneEnteredEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=at + timedelta(seconds=0.3),
        config_version=VERSION,
        track_id=track_id,
        zone_id=zone,
        entered_at=at,
    )


def dwell_exceeded(camera: str, zone: str, track_id: int, at: datetime) -> ZoneDwellExceededEvent:
    return ZoneDwellExceededEvent(
        camera_id=camera,
        store_id=STORE,
        occurred_at=at + timedelta(seconds=60),
        config_version=VERSION,
        track_id=track_id,
        zone_id=zone,
        entered_at=at,
        dwell_s=60.0,
        threshold_s=60.0,
    )


def visit_ended(
    camera: str, track_id: int, started: datetime, ended: datetime, path: Sequence[str]
) -> VisitEndedEvent:
    return VisitEndedEvent.model_validate(
        {
            "camera_id": camera,
            "store_id": STORE,
            "occurred_at": ended,
            "config_version": VERSION,
            "visit_id": f"{camera}/{track_id}",
            "ordinal": 1,
            "linked": False,
            "camera_ids": [camera],
            "track_uids": [str(track_uid(camera, track_id, started))],
            "started_at": started,
            "entered_at": started,
            "ended_at": ended,
            "end_reason": "track_ended",
            "duration_s": (ended - started).total_seconds(),
            "path": list(path),
            "funnel_stages": {"f1": 2},
        }
    )


def identity(
    camera: str,
    track_id: int,
    uid: uuid.UUID,
    visit: uuid.UUID,
    at: datetime,
    customer: str | None = None,
) -> IdentityResolvedEvent | IdentityUnknownEvent:
    common: dict[str, Any] = {
        "camera_id": camera,
        "store_id": STORE,
        "occurred_at": at,
        "track_id": track_id,
        "track_uid": uid,
        "visit_id": visit,
        "visit_scope": "linked",
    }
    if customer is None:
        return IdentityUnknownEvent(**common, reason="no_match", observations=5)
    return IdentityResolvedEvent(**common, customer_id=customer, confidence=0.9, votes=5, window=5)


def received(event: Event) -> Received:
    return Received(lambda: 0, subject_for(event), encode(event), event)


async def write(db: Database, events: Sequence[Event], stream: str = "ANALYTICS") -> WriteResult:
    """Events through the gateway's own ingest writer (what a consumer would commit)."""
    return await BatchWriter(db, stream).write([received(e) for e in events])


@asynccontextmanager
async def analytics_publisher(nats_url: str) -> AsyncIterator[EventPublisher]:
    """The event publisher with every stream the analytics tests publish on."""
    streams = {spec.name: spec for spec in (*ALL_STREAMS, *ANALYTICS_STREAMS)}
    connection = NatsConnection(nats_url, reconnect_time_wait_s=0.05)
    publisher = EventPublisher(
        connection, streams=tuple(streams.values()), ack_timeout_s=2.0, retry_backoff_s=(0.02, 0.2)
    )
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.close(timeout_s=2.0)
        await connection.close()


ANALYTICS_INGEST = IngestSettings(
    streams=("TRACKS", "DETECTIONS", "CAMERA_STATUS", "IDENTITY", "ALERTS", "ANALYTICS"),
    ack_wait_s=2.0,
    batch_window_s=0.01,
    retry_backoff_s=(0.05, 0.5),
    stream_wait_s=0.2,
)


@asynccontextmanager
async def analytics_gateway(
    database_url: str, nats_url: str, **overrides: Any
) -> AsyncIterator[RunningGateway]:
    """The whole gateway, its ingest consuming the ANALYTICS stream too."""
    values: dict[str, Any] = {"ingest": ANALYTICS_INGEST, **overrides}
    async with running_gateway(settings(database_url, nats_url, **values)) as running:
        await wait_schema(running.gateway)
        yield running


async def refreshed(gateway: RunningGateway) -> None:
    """Rollups and journeys up to date now (instead of waiting for the next refresh)."""
    maintenance = gateway.gateway.maintenance
    assert maintenance is not None
    await maintenance.refresh_now()


async def scalar(gateway: RunningGateway, sql: str, *args: Any) -> Any:
    async with gateway.gateway.db.connection() as conn:
        return await conn.fetchval(sql, *args)
