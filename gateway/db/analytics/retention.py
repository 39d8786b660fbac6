"""Retention of the analytics tables, with the TRINETRA_RETENTION__* settings, on both
dialects (so a setting means the same on TimescaleDB as on plain PostgreSQL).

Which setting governs which table, by the kind of data it holds:
- track_events_days: the analytics series (crossings, stays, occupancy changes, queue
  snapshots and abandonments, other analytics events), the engine's visits and the
  journeys: pseudonymous movement data, like the tracks they come from;
- detections_days: the per-minute heatmap grids (volume, like detections);
- identity_events_days: customer ids. Visits and journeys outlive them (track events
  live longer), so their customer ids are cleared once this passes;
- rollup_days: every aggregate (footfall, occupancy, dwell, queues, heatmap sums,
  journey counts and flows), which hold no one's identity.

The time series and their aggregates go through the SQL function `expire_rows`, which
deletes rows on plain PostgreSQL and drops whole chunks on TimescaleDB (hypertables and
continuous aggregates); the derived tables, plain tables on both, are deleted in chunks.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from gateway.config import RetentionSettings

_CHUNK: Final = 10_000

# (table, time column, setting) expired with expire_rows()
_SERIES: Final = (
    ("line_crossings", "crossed_at", "track_events_days"),
    ("zone_stays", "exited_at", "track_events_days"),
    ("zone_occupancy_changes", "occurred_at", "track_events_days"),
    ("queue_snapshots", "occurred_at", "track_events_days"),
    ("queue_abandonments", "left_at", "track_events_days"),
    ("analytics_events", "occurred_at", "track_events_days"),
    ("visits", "started_at", "track_events_days"),
    ("heatmap_grids", "minute_start", "detections_days"),
    ("footfall_15m", "bucket", "rollup_days"),
    ("footfall_hour", "bucket", "rollup_days"),
    ("footfall_day", "bucket", "rollup_days"),
    ("zone_occupancy_minute", "bucket", "rollup_days"),
    ("zone_occupancy_hour", "bucket", "rollup_days"),
    ("zone_dwell_hour", "bucket", "rollup_days"),
    ("zone_dwell_day", "bucket", "rollup_days"),
    ("zone_dwell_week", "bucket", "rollup_days"),
    ("zone_dwell_hist_hour", "bucket", "rollup_days"),
    ("zone_dwell_hist_day", "bucket", "rollup_days"),
    ("zone_dwell_hist_week", "bucket", "rollup_days"),
    ("queue_minute", "bucket", "rollup_days"),
    ("queue_hour", "bucket", "rollup_days"),
    ("queue_abandoned_minute", "bucket", "rollup_days"),
    ("queue_abandoned_hour", "bucket", "rollup_days"),
)
# Plain tables on both dialects: (table, time column, setting)
_DERIVED: Final = (
    ("heatmap_hour", "bucket", "rollup_days"),
    ("heatmap_day", "bucket", "rollup_days"),
    ("journey_counts", "bucket", "rollup_days"),
    ("journey_flows", "bucket", "rollup_days"),
    ("journeys", "ended_at", "track_events_days"),
    ("journey_funnels", "started_at", "track_events_days"),
    ("journey_tracks", "last_at", "track_events_days"),
)
# Customer ids cleared after identity_events_days: (table, time column)
_CUSTOMER_IDS: Final = (
    ("visits", "started_at"),
    ("journeys", "ended_at"),
    ("journey_tracks", "last_at"),
)


def _days(settings: RetentionSettings, name: str) -> int:
    days: int = getattr(settings, name)
    return days


async def apply_analytics_retention(
    conn: asyncpg.Connection, settings: RetentionSettings
) -> dict[str, int]:
    """Expire what is past its retention; returns rows deleted (or cleared) per table."""
    counts: dict[str, int] = {}
    for table, column, setting in _SERIES:
        total = 0
        while True:
            deleted = await conn.fetchval(
                "SELECT expire_rows($1::regclass, $2, now() - make_interval(days => $3), $4)",
                table,
                column,
                _days(settings, setting),
                _CHUNK,
            )
            total += int(deleted)
            if deleted < _CHUNK:
                break
        counts[table] = total
    for table, column, setting in _DERIVED:
        total = 0
        while True:
            status = await conn.execute(
                f"""
                DELETE FROM {table} WHERE ctid = ANY (ARRAY(
                    SELECT ctid FROM {table}
                    WHERE {column} < now() - make_interval(days => $1) LIMIT {_CHUNK}))
                """,
                _days(settings, setting),
            )
            count = int(status.rsplit(" ", 1)[-1])
            total += count
            if count < _CHUNK:
                break
        counts[table] = counts.get(table, 0) + total
    for table, column in _CUSTOMER_IDS:
        status = await conn.execute(
            f"""
            UPDATE {table} SET customer_id = NULL
            WHERE customer_id IS NOT NULL AND {column} < now() - make_interval(days => $1)
            """,
            settings.identity_events_days,
        )
        counts[f"{table}.customer_id"] = int(status.rsplit(" ", 1)[-1])
    return counts
