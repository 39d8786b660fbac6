"""The one place that decides TimescaleDB or plain PostgreSQL.

On first migration the choice is made from what the server offers (`timescaledb` in
`pg_available_extensions` and preloaded, as the extension requires) and recorded in
`schema_dialect`; every later run uses the recorded choice, because the two paths build
different objects under the same names (e.g. `camera_minute` is a continuous aggregate on
one and a rollup table on the other) and switching needs a data migration, not a flag.

What differs is only storage: which migration folder applies (sql/timescale/ or
sql/postgres/) and whether the gateway itself refreshes rollups and enforces retention
on the time-series tables. Every query the API runs is the same on both.
"""

from __future__ import annotations

from enum import StrEnum

import asyncpg


class Dialect(StrEnum):
    TIMESCALE = "timescale"
    POSTGRES = "postgres"

    @property
    def migration_folder(self) -> str:
        """The folder under sql/ with this dialect's own migrations."""
        return self.value

    @property
    def gateway_maintains_timeseries(self) -> bool:
        """Plain PostgreSQL has no background jobs: the gateway refreshes the per-minute
        rollups and deletes expired time-series rows itself."""
        return self is Dialect.POSTGRES


_RECORD_TABLE = """
CREATE TABLE IF NOT EXISTS schema_dialect (
    singleton boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    dialect   text        NOT NULL,
    chosen_at timestamptz NOT NULL DEFAULT now()
)
"""


async def timescale_available(conn: asyncpg.Connection) -> bool:
    """The extension is installed on the server and loaded at startup."""
    row = await conn.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
                   AS available,
               current_setting('shared_preload_libraries') AS preload
        """
    )
    assert row is not None
    return bool(row["available"]) and "timescaledb" in str(row["preload"])


async def detect(conn: asyncpg.Connection) -> Dialect:
    """What this server can run now (ignores any recorded choice)."""
    return Dialect.TIMESCALE if await timescale_available(conn) else Dialect.POSTGRES


async def recorded(conn: asyncpg.Connection) -> Dialect | None:
    """The dialect the schema was built for, or None before the first migration."""
    exists = await conn.fetchval("SELECT to_regclass('schema_dialect') IS NOT NULL")
    if not exists:
        return None
    value = await conn.fetchval("SELECT dialect FROM schema_dialect")
    return None if value is None else Dialect(value)


async def choose(conn: asyncpg.Connection) -> Dialect:
    """The recorded dialect, or detect and record one (call under the migration lock)."""
    await conn.execute(_RECORD_TABLE)
    current = await recorded(conn)
    if current is not None:
        return current
    chosen = await detect(conn)
    await conn.execute("INSERT INTO schema_dialect (dialect) VALUES ($1)", chosen.value)
    return chosen
