"""Every read the API runs: the same SQL on TimescaleDB and plain PostgreSQL.

Lists are newest first with keyset pagination: `after` is the (time, id) key of the last
row of the previous page, and each query fetches `limit + 1` rows so the caller knows
whether another page exists without counting. Time ranges are half-open [start, end).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

Key = tuple[datetime, uuid.UUID]


@dataclass(frozen=True)
class Page:
    rows: list[asyncpg.Record]
    has_next: bool


def _page(rows: list[asyncpg.Record], limit: int) -> Page:
    return Page(rows[:limit], len(rows) > limit)


CAMERA_COLUMNS = """
    store_id, camera_id, config, registered_at, updated_at,
    status, status_reason, status_at, reconnect_attempt
"""


async def cameras(conn: asyncpg.Connection, store_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {CAMERA_COLUMNS} FROM cameras WHERE store_id = $1 ORDER BY camera_id", store_id
    )
    return rows


async def registered_cameras(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every store's registered cameras (what the camera registry in NATS KV mirrors)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT store_id, camera_id, config, updated_at FROM cameras WHERE config IS NOT NULL"
    )
    return rows


async def camera(conn: asyncpg.Connection, store_id: str, camera_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {CAMERA_COLUMNS} FROM cameras WHERE store_id = $1 AND camera_id = $2",
        store_id,
        camera_id,
    )
    return row


async def detections(
    conn: asyncpg.Connection,
    store_id: str,
    camera_id: str,
    start: datetime,
    end: datetime,
    limit: int,
    after: Key | None,
) -> Page:
    rows = await conn.fetch(
        """
        SELECT occurred_at, event_id, camera_id, frame_seq, frame_width, frame_height,
               person_count, face_count, persons
        FROM detections
        WHERE store_id = $1 AND camera_id = $2 AND occurred_at >= $3 AND occurred_at < $4
          AND ($5::timestamptz IS NULL OR (occurred_at, event_id) < ($5, $6::uuid))
        ORDER BY occurred_at DESC, event_id DESC
        LIMIT $7
        """,
        store_id,
        camera_id,
        start,
        end,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return _page(rows, limit)


async def tracks(
    conn: asyncpg.Connection,
    store_id: str,
    camera_id: str,
    start: datetime,
    end: datetime,
    limit: int,
    after: Key | None,
) -> Page:
    """Tracks of a camera that were visible at some point in [start, end)."""
    rows = await conn.fetch(
        """
        SELECT track_uid, camera_id, track_id, first_seen_at, last_seen_at, last_box,
               last_score, samples, ended, ended_at, end_reason, duration_s, frames_seen,
               path, path_length
        FROM tracks
        WHERE store_id = $1 AND camera_id = $2 AND first_seen_at < $4 AND last_seen_at >= $3
          AND ($5::timestamptz IS NULL OR (first_seen_at, track_uid) < ($5, $6::uuid))
        ORDER BY first_seen_at DESC, track_uid DESC
        LIMIT $7
        """,
        store_id,
        camera_id,
        start,
        end,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return _page(rows, limit)


async def track_events(
    conn: asyncpg.Connection, track_uids: Sequence[uuid.UUID], limit_per_track: int
) -> list[asyncpg.Record]:
    """Recent events of several tracks (oldest first), at most `limit_per_track` each."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT e.* FROM unnest($1::uuid[]) AS u(track_uid)
        CROSS JOIN LATERAL (
            SELECT track_uid, kind, occurred_at, frame_seq, x1, y1, x2, y2, score
            FROM track_events t
            WHERE t.track_uid = u.track_uid
            ORDER BY t.occurred_at DESC
            LIMIT $2
        ) e
        ORDER BY e.track_uid, e.occurred_at
        """,
        list(track_uids),
        limit_per_track,
    )
    return rows


ALERT_COLUMNS = """
    event_id, occurred_at, store_id, camera_id, kind, severity, customer_id, details,
    acknowledged_at, acknowledged_by, ack_note
"""


async def alerts(
    conn: asyncpg.Connection,
    store_id: str,
    camera_id: str | None,
    start: datetime,
    end: datetime,
    acknowledged: bool | None,
    limit: int,
    after: Key | None,
) -> Page:
    rows = await conn.fetch(
        f"""
        SELECT {ALERT_COLUMNS}
        FROM alerts
        WHERE store_id = $1 AND ($2::text IS NULL OR camera_id = $2)
          AND occurred_at >= $3 AND occurred_at < $4
          AND ($5::boolean IS NULL OR (acknowledged_at IS NOT NULL) = $5)
          AND ($6::timestamptz IS NULL OR (occurred_at, event_id) < ($6, $7::uuid))
        ORDER BY occurred_at DESC, event_id DESC
        LIMIT $8
        """,
        store_id,
        camera_id,
        start,
        end,
        acknowledged,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return _page(rows, limit)


async def alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE event_id = $1", alert_id
    )
    return row


async def identity_events(
    conn: asyncpg.Connection,
    store_id: str,
    camera_id: str | None,
    customer_id: str | None,
    start: datetime,
    end: datetime,
    limit: int,
    after: Key | None,
) -> Page:
    rows = await conn.fetch(
        """
        SELECT occurred_at, event_id, camera_id, kind, track_id, track_uid, visit_id,
               customer_id, confidence, reason, vip, erased, details
        FROM identity_events
        WHERE store_id = $1 AND ($2::text IS NULL OR camera_id = $2)
          AND ($3::text IS NULL OR customer_id = $3)
          AND occurred_at >= $4 AND occurred_at < $5
          AND ($6::timestamptz IS NULL OR (occurred_at, event_id) < ($6, $7::uuid))
        ORDER BY occurred_at DESC, event_id DESC
        LIMIT $8
        """,
        store_id,
        camera_id,
        customer_id,
        start,
        end,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return _page(rows, limit)


async def occupancy(
    conn: asyncpg.Connection,
    store_id: str,
    camera_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
) -> list[asyncpg.Record]:
    """Per camera per minute: frames, persons summed and peak (`camera_minute` is a
    continuous aggregate on TimescaleDB, a gateway-refreshed rollup table otherwise)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT camera_id, bucket, frames, person_sum, person_max
        FROM camera_minute
        WHERE store_id = $1 AND ($2::text[] IS NULL OR camera_id = ANY($2))
          AND bucket >= $3 AND bucket < $4
        ORDER BY camera_id, bucket
        """,
        store_id,
        None if camera_ids is None else list(camera_ids),
        start,
        end,
    )
    return rows
