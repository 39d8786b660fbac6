"""Every write the API makes: cameras, alert acknowledgement, the audit log, erasure
(the analytics configuration's versions are in gateway/db/analytics/config.py)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from gateway.auth import Principal
from gateway.db.reads import ALERT_COLUMNS, CAMERA_COLUMNS
from trinetra.config.limits import MAX_STORE_CAMERAS


class CameraExistsError(Exception):
    """A camera with this id is already registered in the store."""


class CameraNotFoundError(Exception):
    """No registered camera with this id in the store."""


class CameraLimitError(Exception):
    """The store already has MAX_STORE_CAMERAS registered cameras."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


async def register_camera(
    conn: asyncpg.Connection,
    store_id: str,
    camera_id: str,
    config: dict[str, Any],
    *,
    max_cameras: int = MAX_STORE_CAMERAS,
) -> asyncpg.Record:
    """Store a validated config (in the caller's transaction). A camera only seen on the
    bus so far (no config) is registered in place, keeping its live status. At most
    `max_cameras` registered cameras per store: every `cameras` read lists them all."""
    # Registrations of one store queue here, so two at once cannot both pass the count.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cameras:' || $1))", store_id)
    registered = await conn.fetchval(
        "SELECT count(*) FROM cameras WHERE store_id = $1 AND config IS NOT NULL", store_id
    )
    if registered >= max_cameras:
        raise CameraLimitError(
            f"store {store_id!r} has {registered} registered cameras: at most {max_cameras} "
            "allowed (MAX_STORE_CAMERAS); delete one first",
            max_cameras,
        )
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        INSERT INTO cameras (store_id, camera_id, config, registered_at, updated_at)
        VALUES ($1, $2, $3, now(), now())
        ON CONFLICT (store_id, camera_id) DO UPDATE
            SET config = EXCLUDED.config, registered_at = now(), updated_at = now()
            WHERE cameras.config IS NULL
        RETURNING {CAMERA_COLUMNS}
        """,
        store_id,
        camera_id,
        config,
    )
    if row is None:
        raise CameraExistsError(f"camera {camera_id!r} is already registered")
    return row


async def camera_config_for_update(
    conn: asyncpg.Connection, store_id: str, camera_id: str
) -> dict[str, Any]:
    """The stored config, row-locked until the transaction ends."""
    config = await conn.fetchval(
        "SELECT config FROM cameras WHERE store_id = $1 AND camera_id = $2 FOR UPDATE",
        store_id,
        camera_id,
    )
    if config is None:
        raise CameraNotFoundError(f"no registered camera {camera_id!r}")
    assert isinstance(config, dict)
    return config


async def update_camera(
    conn: asyncpg.Connection, store_id: str, camera_id: str, config: dict[str, Any]
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        UPDATE cameras SET config = $3, updated_at = now()
        WHERE store_id = $1 AND camera_id = $2
        RETURNING {CAMERA_COLUMNS}
        """,
        store_id,
        camera_id,
        config,
    )
    if row is None:
        raise CameraNotFoundError(f"no registered camera {camera_id!r}")
    return row


async def delete_camera(
    conn: asyncpg.Connection, store_id: str, camera_id: str
) -> asyncpg.Record | None:
    """Remove a camera's row (registration and live status); its stored events stay.
    The row as it was, or None when the store has no such camera."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"DELETE FROM cameras WHERE store_id = $1 AND camera_id = $2 RETURNING {CAMERA_COLUMNS}",
        store_id,
        camera_id,
    )
    return row


async def acknowledge_alert(
    conn: asyncpg.Connection, alert_id: uuid.UUID, actor: str, note: str | None
) -> asyncpg.Record | None:
    """Mark an alert acknowledged; acknowledging again keeps the first acknowledgement.
    None when there is no such alert."""
    await conn.execute(
        """
        UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2, ack_note = $3
        WHERE event_id = $1 AND acknowledged_at IS NULL
        """,
        alert_id,
        actor,
        note,
    )
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE event_id = $1", alert_id
    )
    return row


async def audit(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    action: str,
    target: str,
    reason: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry: who (actor, scopes), what (action, target), why, when."""
    await conn.execute(
        """
        INSERT INTO audit_log (actor, scopes, action, target, reason, details)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        principal.subject,
        principal.scope_names,
        action,
        target,
        reason,
        details or {},
    )


def customer_hash(customer_id: str) -> bytes:
    return hashlib.sha256(customer_id.encode()).digest()


async def forget_customer(
    conn: asyncpg.Connection, customer_id: str, erased_at: datetime
) -> dict[str, int]:
    """Remove a customer's id from stored identity events and alerts, and remember the
    erasure (by hash) so events ingested late are stored without it too."""
    await conn.execute(
        """
        INSERT INTO erased_customers (customer_hash, erased_at) VALUES ($1, $2)
        ON CONFLICT (customer_hash) DO UPDATE
            SET erased_at = GREATEST(erased_customers.erased_at, EXCLUDED.erased_at)
        """,
        customer_hash(customer_id),
        erased_at,
    )
    identity = await conn.execute(
        """
        UPDATE identity_events SET customer_id = NULL, erased = true
        WHERE customer_id = $1 AND occurred_at <= $2
        """,
        customer_id,
        erased_at,
    )
    alerts = await conn.execute(
        "UPDATE alerts SET customer_id = NULL WHERE customer_id = $1 AND occurred_at <= $2",
        customer_id,
        erased_at,
    )
    # Visits and journeys name the customer too (journeys keep their shape: which tracks
    # were one person's is pseudonymous).
    analytics = 0
    for table, column in (
        ("visits", "started_at"),
        ("journeys", "started_at"),
        ("journey_tracks", "first_at"),
    ):
        status = await conn.execute(
            f"UPDATE {table} SET customer_id = NULL WHERE customer_id = $1 AND {column} <= $2",
            customer_id,
            erased_at,
        )
        analytics += _count(status)
    return {"identity_events": _count(identity), "alerts": _count(alerts), "visits": analytics}


def _count(status: str) -> int:
    """Rows affected, from a command status such as 'UPDATE 3'."""
    return int(status.rsplit(" ", 1)[-1])
