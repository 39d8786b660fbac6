"""Writing a batch of bus messages to the database in one transaction, idempotently.

Per table: COPY the batch into a session-local staging table, then
`INSERT INTO <table> SELECT ... FROM staging ON CONFLICT DO NOTHING RETURNING event_id`.
The key includes the deterministic event id, so a redelivered message adds nothing, and
only the events that were new feed the derived rows (`tracks`, the cameras' live status):
applying a batch twice is the same as applying it once.

Analytics events feed two derived tables the same way: the newest occupancy per zone
(`zone_occupancy_current`) and the hourly and daily heatmap sums
(gateway/db/analytics/heatmap.py), from the events that were new in the batch only.

Rule alerts: an `alert.resolved` closes the alert it names (`resolved_at`, ...), derived
from `alert_resolutions` whenever a batch stored an alert or a resolution, so it works
in either arrival order and a replay changes nothing.

Messages the schema refused are stored in `rejected_events` in the same transaction. If
the database refuses the batch for a non-transient reason (a value PostgreSQL cannot
store), the batch is retried one message per transaction and the refused ones are stored
as rejected, so one bad message can neither block the stream nor take others with it.
Transient errors (database down) propagate: the caller retries the whole batch.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from gateway.db.analytics import heatmap
from gateway.db.database import Database, is_transient
from gateway.ingest.rows import (
    CUSTOMER_TABLES,
    IDENTITY_EVENTS,
    Row,
    Table,
    latest_occupancy,
    latest_status,
    merge_tracks,
    row_for,
)
from trinetra.events.schema import (
    AlertRaisedEvent,
    AlertResolvedEvent,
    CameraStatusEvent,
    Event,
    HeatmapGridEvent,
    TrackEndedEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    ZoneOccupancyEvent,
)
from trinetra.logs import log_context, trace_fields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One bus message: its decoded event, or why it could not be decoded.

    `stream_seq` is a callable because parsing it from the ack subject costs more than
    storing a small event, and it is only needed for the rare rejected message."""

    stream_seq: Callable[[], int]
    subject: str
    payload: bytes
    event: Event | None
    error: str | None = None


@dataclass
class WriteResult:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, other: WriteResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected += other.rejected


_ERASED: Final = (
    "EXISTS (SELECT 1 FROM erased_customers e"
    " WHERE e.customer_hash = sha256(convert_to(s.customer_id, 'UTF8'))"
    " AND s.occurred_at <= e.erased_at)"
)

_UPSERT_TRACK: Final = """
INSERT INTO tracks AS t (track_uid, store_id, camera_id, track_id, first_seen_at,
    last_seen_at, last_box, last_score, box_at, samples, ended, ended_at, end_reason,
    duration_s, frames_seen, path, path_length)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (track_uid) DO UPDATE SET
    first_seen_at = LEAST(t.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at),
    last_box = CASE WHEN EXCLUDED.box_at >= t.box_at OR t.box_at IS NULL
                    THEN COALESCE(EXCLUDED.last_box, t.last_box) ELSE t.last_box END,
    last_score = CASE WHEN EXCLUDED.box_at >= t.box_at OR t.box_at IS NULL
                      THEN COALESCE(EXCLUDED.last_score, t.last_score) ELSE t.last_score END,
    box_at = GREATEST(t.box_at, EXCLUDED.box_at),
    samples = t.samples + EXCLUDED.samples,
    ended = t.ended OR EXCLUDED.ended,
    ended_at = COALESCE(EXCLUDED.ended_at, t.ended_at),
    end_reason = COALESCE(EXCLUDED.end_reason, t.end_reason),
    duration_s = COALESCE(EXCLUDED.duration_s, t.duration_s),
    frames_seen = COALESCE(EXCLUDED.frames_seen, t.frames_seen),
    path = COALESCE(EXCLUDED.path, t.path),
    path_length = COALESCE(EXCLUDED.path_length, t.path_length),
    updated_at = now()
"""

_UPSERT_STATUS: Final = """
INSERT INTO cameras AS c (store_id, camera_id, status, status_reason, status_at,
    reconnect_attempt)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (store_id, camera_id) DO UPDATE SET
    status = EXCLUDED.status,
    status_reason = EXCLUDED.status_reason,
    status_at = EXCLUDED.status_at,
    reconnect_attempt = EXCLUDED.reconnect_attempt
WHERE c.status_at IS NULL OR c.status_at <= EXCLUDED.status_at
"""

_UPSERT_OCCUPANCY: Final = """
INSERT INTO zone_occupancy_current AS z (store_id, camera_id, zone_id, count, capacity, at,
    event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (store_id, camera_id, zone_id) DO UPDATE SET
    count = EXCLUDED.count, capacity = EXCLUDED.capacity, at = EXCLUDED.at,
    event_id = EXCLUDED.event_id
WHERE z.at <= EXCLUDED.at
"""

# Close the named alerts that have a stored resolution (the earliest, if several).
_CLOSE_ALERTS: Final = """
UPDATE alerts AS a SET
    resolved_at = r.occurred_at,
    resolved_event_id = r.event_id,
    resolve_reason = r.reason
FROM (
    SELECT DISTINCT ON (raised_event_id) raised_event_id, occurred_at, event_id, reason
    FROM alert_resolutions
    WHERE raised_event_id = ANY($1::uuid[])
    ORDER BY raised_event_id, occurred_at, event_id
) AS r
WHERE a.event_id = r.raised_event_id AND a.resolved_at IS NULL
"""

_REJECT: Final = """
INSERT INTO rejected_events (stream, stream_seq, subject, error, payload)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
"""


def _text(value: str | None) -> str:
    """PostgreSQL text cannot hold NUL; error messages may quote one from the payload."""
    return (value or "unknown").replace("\x00", "\\x00")[:4000]


def _select_list(table: Table) -> str:
    if table.name not in CUSTOMER_TABLES:
        return ", ".join(f"s.{c}" for c in table.columns)
    parts = [
        f"CASE WHEN {_ERASED} THEN NULL ELSE s.customer_id END" if c == "customer_id" else f"s.{c}"
        for c in table.columns
    ]
    return ", ".join(parts)


def _insert_sql(table: Table) -> str:
    columns = list(table.columns)
    select = _select_list(table)
    if table is IDENTITY_EVENTS:
        columns.append("erased")
        select += f", (s.customer_id IS NOT NULL AND {_ERASED})"
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {select} FROM stage_{table.name} s "
        "ON CONFLICT DO NOTHING RETURNING event_id"
    )


class BatchWriter:
    """Stores batches from one stream (module docs)."""

    def __init__(self, db: Database, stream: str) -> None:
        self._db = db
        self._stream = stream
        self._insert_sql: dict[str, str] = {}

    async def write(self, items: Sequence[Received]) -> WriteResult:
        """Store a batch; raises only for transient errors (retry the same batch)."""
        if not items:
            return WriteResult()
        try:
            async with self._db.connection() as conn, conn.transaction():
                return await self._write(conn, items)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning(
                "database refused a batch; isolating the bad messages",
                extra={"stream": self._stream, "messages": len(items), "error": repr(exc)},
            )
        return await self._write_one_by_one(items)

    async def _write_one_by_one(self, items: Sequence[Received]) -> WriteResult:
        total = WriteResult()
        for item in items:
            # One event at a time: what is logged here is about this event.
            with log_context(**trace_fields(item.event)):
                try:
                    async with self._db.connection() as conn, conn.transaction():
                        total.add(await self._write(conn, [item]))
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    refused = Received(
                        item.stream_seq, item.subject, item.payload, None, f"database: {exc}"
                    )
                    async with self._db.connection() as conn, conn.transaction():
                        total.add(await self._write(conn, [refused]))
        return total

    async def _write(self, conn: asyncpg.Connection, items: Sequence[Received]) -> WriteResult:
        by_table: dict[Table, list[tuple[Row, Event]]] = defaultdict(list)
        rejects: list[Received] = []
        for item in items:
            if item.event is None:
                rejects.append(item)
            else:
                table, row = row_for(item.event)
                by_table[table].append((row, item.event))
        result = WriteResult(rejected=len(rejects))
        new_events: list[Event] = []
        for table, entries in by_table.items():
            new_ids = await self._insert(conn, table, [row for row, _ in entries])
            # A batch may hold two copies of one event (a redelivery next to the
            # original): one row was inserted, so one copy is new.
            fresh = set(new_ids)
            for _, event in entries:
                if event.event_id in fresh:
                    fresh.discard(event.event_id)
                    new_events.append(event)
            result.stored += len(new_ids)
            result.duplicates += len(entries) - len(new_ids)
        await self._derive(conn, new_events)
        if rejects:
            await conn.executemany(
                _REJECT,
                [
                    (self._stream, r.stream_seq(), _text(r.subject), _text(r.error), r.payload)
                    for r in rejects
                ],
            )
        return result

    async def _insert(self, conn: asyncpg.Connection, table: Table, rows: list[Row]) -> set[Any]:
        stage = f"stage_{table.name}"
        # Session-local, emptied at every commit; IF NOT EXISTS is a catalog lookup.
        await conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
            f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table(stage, records=rows, columns=list(table.columns))
        sql = self._insert_sql.get(table.name)
        if sql is None:
            sql = self._insert_sql[table.name] = _insert_sql(table)
        returned = await conn.fetch(sql)
        return {record["event_id"] for record in returned}

    async def _derive(self, conn: asyncpg.Connection, new_events: Sequence[Event]) -> None:
        """Derived rows from the events that were new in this batch."""
        track_events = [
            e
            for e in new_events
            if isinstance(e, TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent)
        ]
        if track_events:
            merges = merge_tracks(track_events)
            await conn.executemany(_UPSERT_TRACK, [m.row() for m in merges])
        statuses = [e for e in new_events if isinstance(e, CameraStatusEvent)]
        if statuses:
            await conn.executemany(
                _UPSERT_STATUS,
                [
                    (
                        e.store_id,
                        e.camera_id,
                        e.state,
                        e.reason,
                        e.occurred_at,
                        e.reconnect_attempt,
                    )
                    for e in latest_status(statuses)
                ],
            )
        alert_ids = [
            e.event_id if isinstance(e, AlertRaisedEvent) else e.raised_event_id
            for e in new_events
            if isinstance(e, AlertRaisedEvent | AlertResolvedEvent)
        ]
        if alert_ids:
            await conn.execute(_CLOSE_ALERTS, alert_ids)
        occupancy = [e for e in new_events if isinstance(e, ZoneOccupancyEvent)]
        if occupancy:
            await conn.executemany(
                _UPSERT_OCCUPANCY,
                [
                    (
                        e.store_id,
                        e.camera_id,
                        e.zone_id,
                        e.count,
                        e.capacity,
                        e.occurred_at,
                        e.event_id,
                    )
                    for e in latest_occupancy(occupancy)
                ],
            )
        grids = [e for e in new_events if isinstance(e, HeatmapGridEvent)]
        if grids:
            await heatmap.add_grids(
                conn,
                [
                    heatmap.Grid(
                        e.store_id,
                        e.camera_id,
                        e.minute_start,
                        e.cols,
                        e.rows,
                        e.samples,
                        e.person_seconds,
                        e.flow_dx,
                        e.flow_dy,
                        e.flow_samples,
                    )
                    for e in grids
                ],
            )
