"""The analytics configuration's versions: one row per change, never updated.

A change runs in one transaction: `lock` serializes the changes of a store (a
transaction-level advisory lock, so two operators editing at once take turns instead of
overwriting each other), `current` reads the newest version, `insert` adds the next one;
the caller writes the audit entry in the same transaction. Whether the newest version has
reached the NATS KV bucket is kept apart (analytics_config_published), so a version is
stored even while NATS is down and published once it is back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from trinetra.config.analytics import StoreAnalyticsConfig

_COLUMNS = "store_id, version, config, actor, action, reason, diff, created_at"


@dataclass(frozen=True)
class ConfigVersion:
    store_id: str
    version: int
    config: dict[str, Any]
    actor: str
    action: str
    reason: str | None
    diff: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> ConfigVersion:
        return cls(
            row["store_id"],
            row["version"],
            row["config"],
            row["actor"],
            row["action"],
            row["reason"],
            row["diff"],
            row["created_at"],
        )


async def lock(conn: asyncpg.Connection, store_id: str) -> None:
    """Hold the store's configuration until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('analytics-config:' || $1, 0))", store_id
    )


async def current(conn: asyncpg.Connection, store_id: str) -> ConfigVersion | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM analytics_config_versions WHERE store_id = $1"
        " ORDER BY version DESC LIMIT 1",
        store_id,
    )
    return None if row is None else ConfigVersion.of(row)


async def insert(
    conn: asyncpg.Connection,
    store_id: str,
    version: int,
    config: dict[str, Any],
    *,
    actor: str,
    action: str,
    reason: str | None,
    diff: dict[str, Any],
) -> ConfigVersion:
    row = await conn.fetchrow(
        f"""
        INSERT INTO analytics_config_versions (store_id, version, config, actor, action,
            reason, diff)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING {_COLUMNS}
        """,
        store_id,
        version,
        config,
        actor,
        action,
        reason,
        diff,
    )
    assert row is not None
    return ConfigVersion.of(row)


async def history(
    conn: asyncpg.Connection, store_id: str, limit: int, before: int | None
) -> list[ConfigVersion]:
    """Versions newest first, below `before` when given."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM analytics_config_versions
        WHERE store_id = $1 AND ($2::integer IS NULL OR version < $2)
        ORDER BY version DESC LIMIT $3
        """,
        store_id,
        before,
        limit,
    )
    return [ConfigVersion.of(r) for r in rows]


async def mark_published(conn: asyncpg.Connection, store_id: str, version: int) -> None:
    await conn.execute(
        """
        INSERT INTO analytics_config_published (store_id, version) VALUES ($1, $2)
        ON CONFLICT (store_id) DO UPDATE SET version = EXCLUDED.version, published_at = now()
        WHERE analytics_config_published.version < EXCLUDED.version
        """,
        store_id,
        version,
    )


async def unpublished(conn: asyncpg.Connection) -> list[ConfigVersion]:
    """The newest version of every store whose newest version is not known published."""
    rows = await conn.fetch(
        f"""
        SELECT {", ".join("v." + c for c in _COLUMNS.split(", "))}
        FROM (SELECT DISTINCT ON (store_id) * FROM analytics_config_versions
              ORDER BY store_id, version DESC) v
        LEFT JOIN analytics_config_published p USING (store_id)
        WHERE p.version IS NULL OR p.version < v.version
        """
    )
    return [ConfigVersion.of(r) for r in rows]


# --- validated configurations, once per version ------------------------------------------
# Validating a configuration at its limits takes long (polygon self-intersection tests are
# quadratic in the vertices), so it is done once per stored version and process, off the
# event loop, and reads reuse the model. Versions never change once stored.
_VALIDATED: dict[tuple[str, int], StoreAnalyticsConfig] = {}
_CACHE_SIZE = 64


def remember(config: StoreAnalyticsConfig) -> None:
    """Keep a configuration validated elsewhere (a mutation's new version)."""
    if len(_VALIDATED) >= _CACHE_SIZE:
        _VALIDATED.pop(next(iter(_VALIDATED)))
    _VALIDATED[(config.store_id, config.version)] = config


async def validated(stored: ConfigVersion) -> StoreAnalyticsConfig:
    """The model of a stored version (validated on first use, off the event loop)."""
    key = (stored.store_id, stored.version)
    config = _VALIDATED.get(key)
    if config is None:
        config = await asyncio.to_thread(StoreAnalyticsConfig.model_validate, stored.config)
        remember(config)
    return config


async def current_validated(
    conn: asyncpg.Connection, store_id: str
) -> tuple[ConfigVersion, StoreAnalyticsConfig] | None:
    """The store's newest version and its model, or None when nothing is configured."""
    version = await conn.fetchval(
        "SELECT max(version) FROM analytics_config_versions WHERE store_id = $1", store_id
    )
    if version is None:
        return None
    stored = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM analytics_config_versions WHERE store_id = $1 AND version = $2",
        store_id,
        version,
    )
    assert stored is not None
    row = ConfigVersion.of(stored)
    return row, await validated(row)
