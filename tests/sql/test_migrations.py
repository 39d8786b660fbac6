"""Migrations on a real server: the embedded PostgreSQL 18, or the one
TRINETRA_TEST_DATABASE_URL names (tests/support/postgres.py), TimescaleDB included. What a
run applies follows the dialect the server has; no TimescaleDB build exists here, so in CI
its folder is only checked for structure and isolation."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from devservices.paths import REPO_ROOT
from gateway.db import dialect as dialects
from gateway.db.dialect import Dialect
from gateway.db.migrations import SQL_ROOT, MigrationError, migrate, plan

pytestmark = pytest.mark.timeout(120)

TABLES = {
    "cameras",
    "camera_status_events",
    "detections",
    "track_events",
    "tracks",
    "identity_events",
    "erased_customers",
    "alerts",
    "rejected_events",
    "audit_log",
    "camera_minute",
    "rollup_state",
    "schema_migrations",
    "schema_dialect",
    # analytics (sql/migrations/0002_analytics.sql)
    "line_crossings",
    "zone_stays",
    "zone_occupancy_changes",
    "zone_occupancy_current",
    "queue_snapshots",
    "queue_abandonments",
    "heatmap_grids",
    "heatmap_hour",
    "heatmap_day",
    "visits",
    "analytics_events",
    "journey_tracks",
    "journeys",
    "journey_counts",
    "journey_flows",
    "journey_funnels",
    "journey_funnel_state",
    "analytics_config_versions",
    "analytics_config_published",
    # the plain-PostgreSQL analytics rollups (sql/postgres/0002_analytics_rollups.sql)
    "footfall_15m",
    "footfall_hour",
    "footfall_day",
    "zone_occupancy_minute",
    "zone_occupancy_hour",
    "zone_dwell_hour",
    "zone_dwell_day",
    "zone_dwell_week",
    "queue_minute",
    "queue_hour",
    "queue_abandoned_minute",
    "queue_abandoned_hour",
    # compact dwell histograms (sql/postgres/0009_dwell_histogram.sql)
    "zone_dwell_hist_hour",
    "zone_dwell_hist_day",
    "zone_dwell_hist_week",
    # rule alerts (sql/migrations/0007_alert_lifecycle.sql)
    "alert_resolutions",
}
APPLIED = (
    "migrations/0001_core",
    "postgres/0001_rollups",
    "migrations/0002_analytics",
    "postgres/0002_analytics_rollups",
    "migrations/0007_alert_lifecycle",
    "postgres/0009_dwell_histogram",
)


def applied_on(dialect: Dialect) -> tuple[str, ...]:
    """What a first run applies on a server of `dialect`, in order: APPLIED on plain
    PostgreSQL; the TimescaleDB plan, whose list test_timescale_sql_lives_in_one_folder
    spells out."""
    return APPLIED if dialect is Dialect.POSTGRES else tuple(m.name for m in plan(dialect))


async def server_dialect(dsn: str) -> Dialect:
    conn = await asyncpg.connect(dsn)
    try:
        return await dialects.detect(conn)
    finally:
        await conn.close()


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def test_migrations_apply_once_and_a_second_run_changes_nothing(
    empty_database_url: str,
) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        dialect = await dialects.detect(conn)
        first = await migrate(conn)
        assert first.dialect is dialect
        assert first.applied == applied_on(dialect)
        if dialect is Dialect.POSTGRES:  # TimescaleDB makes some of them views
            assert await tables(conn) == TABLES
        second = await migrate(conn)
        assert second.applied == ()
        assert second.already_applied == first.applied
        assert await dialects.recorded(conn) is dialect
        ledger = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY name")
        assert [(r["name"], r["checksum"]) for r in ledger] == sorted(
            (m.name, m.checksum) for m in plan(dialect)
        )
    finally:
        await conn.close()


async def test_concurrent_runs_take_turns(empty_database_url: str) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        reports = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    applied = sorted(len(r.applied) for r in reports)
    assert applied == [0, 0, len(applied_on(await server_dialect(empty_database_url)))]


def test_the_migrate_command_runs_twice(empty_database_url: str) -> None:
    expected = applied_on(asyncio.run(server_dialect(empty_database_url)))
    command = [sys.executable, "-m", "gateway.migrate", "--database-url", empty_database_url]
    first = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == [word for name in expected for word in ("applied", name)]
    second = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    assert f"0 applied, {len(expected)} already applied" in second.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "gateway.migrate", "--database-url", "postgresql://x@127.0.0.1:1/x"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 2
    assert "cannot connect to the database" in unreachable.stderr


async def test_an_edited_applied_migration_is_refused(
    empty_database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    shutil.copytree(SQL_ROOT, root)
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, root)
        core = root / "migrations" / "0001_core.sql"
        core.write_text(core.read_text() + "\n-- an innocent edit\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, root)
        # a new file is applied; a failing one is rolled back and reported
        extra = max(m.number for m in plan(await dialects.detect(conn), root)) + 1
        (root / "migrations" / f"{extra:04d}_extra.sql").write_text("CREATE TABLE extra (id int);")
        core.write_text(core.read_text().replace("\n-- an innocent edit\n", ""))
        assert (await migrate(conn, root)).applied == (f"migrations/{extra:04d}_extra",)
        (root / "migrations" / f"{extra + 1:04d}_broken.sql").write_text(
            "CREATE TABLE half (id int); SELECT no_such_function();"
        )
        with pytest.raises(MigrationError, match=f"{extra + 1:04d}_broken failed"):
            await migrate(conn, root)
        assert "half" not in await tables(conn)
    finally:
        await conn.close()


TIMESCALE_ONLY = re.compile(
    r"timescaledb|create_hypertable|time_bucket|add_\w+_policy|by_range", re.IGNORECASE
)


def test_timescale_sql_lives_in_one_folder() -> None:
    """Everything Timescale-specific is in sql/timescale/ (and nowhere in the queries);
    the plain-PostgreSQL path builds the same names."""
    for path in SQL_ROOT.rglob("*.sql"):
        if path.parent.name != "timescale":
            code = re.sub(r"--.*$", "", path.read_text(), flags=re.MULTILINE)
            assert not TIMESCALE_ONLY.search(code), path
    for path in (REPO_ROOT / "gateway").rglob("*.py"):
        text = path.read_text()
        if path.name != "dialect.py":
            assert not re.search(r"create_hypertable|time_bucket|timescaledb\.", text), path
    timescale = plan(Dialect.TIMESCALE)
    assert [m.name for m in timescale] == [
        "migrations/0001_core",
        "timescale/0001_hypertables",
        "migrations/0002_analytics",
        "timescale/0002_continuous_aggregates",
        "timescale/0003_policies",
        "timescale/0004_analytics_hypertables",
        "timescale/0005_analytics_aggregates",
        "timescale/0006_analytics_policies",
        "migrations/0007_alert_lifecycle",
        "timescale/0008_late_data_and_retention",
        "timescale/0009_dwell_histogram",
    ]
    aggregates = next(m for m in timescale if m.name.endswith("continuous_aggregates"))
    assert not aggregates.transactional
    statements = aggregates.statements()
    assert len(statements) == 2
    assert statements[0].startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS camera_minute")
    # The aggregate exposes the columns the occupancy query reads from the rollup table.
    for column in ("store_id", "camera_id", "bucket", "frames", "person_sum", "person_max"):
        assert re.search(rf"\b{column}\b", statements[0]), column
    hypertables = re.findall(r"create_hypertable\('(\w+)'", timescale[1].sql)
    assert hypertables == ["detections", "track_events", "identity_events", "camera_status_events"]


def test_every_sql_file_parses_with_the_postgresql_parser() -> None:
    """The TimescaleDB folder cannot run here; at least PostgreSQL's own grammar
    (libpg_query, via pglast) must accept every statement of every dialect."""
    pglast = pytest.importorskip("pglast", reason="pglast is a dev dependency")
    for path in sorted(SQL_ROOT.rglob("*.sql")):
        statements = pglast.parse_sql(path.read_text())
        assert statements, path
