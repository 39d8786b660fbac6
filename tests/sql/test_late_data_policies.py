"""Late data on TimescaleDB, checked statically (no TimescaleDB build runs in CI): every
continuous aggregate's refresh policy, as the migrations leave it, looks back at least as
far as an event can arrive late, i.e. the max age of the JetStream stream that feeds its
raw table, plus one bucket (a bucket is refreshed only while it lies wholly inside the
window). A shorter window loses what arrives after it (issue 14: 3 hours lost minutes).
tests/gateway/db/test_late_data.py runs the policies themselves where TimescaleDB is."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from gateway.db.dialect import Dialect
from gateway.db.migrations import Migration, plan
from trinetra.events.streams import ANALYTICS_STREAM, DETECTIONS_STREAM, StreamSpec

# The stream whose events each aggregated raw table stores (gateway/ingest).
FED_BY: Final[dict[str, StreamSpec]] = {
    "detections": DETECTIONS_STREAM,
    "line_crossings": ANALYTICS_STREAM,
    "zone_stays": ANALYTICS_STREAM,
    "zone_occupancy_changes": ANALYTICS_STREAM,
    "queue_snapshots": ANALYTICS_STREAM,
    "queue_abandonments": ANALYTICS_STREAM,
}

_VIEW = re.compile(
    r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\s.*?"
    r"time_bucket\(INTERVAL '([^']+)'.*?\bFROM (\w+)",
    re.DOTALL,
)
_ADD = re.compile(r"add_continuous_aggregate_policy\('(\w+)',\s*start_offset => INTERVAL '([^']+)'")
_REMOVE = re.compile(r"remove_continuous_aggregate_policy\('(\w+)'")
_UNITS: Final = {"minute": 60, "hour": 3600, "day": 86400}


def interval(text: str) -> timedelta:
    """'8 days', '15 minutes', '3 hours' (the forms the migrations use)."""
    match = re.fullmatch(r"(\d+)\s*(minute|hour|day)s?", text.strip())
    assert match, f"unsupported interval {text!r}"
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def final_policies(
    migrations: Sequence[Migration],
) -> tuple[dict[str, tuple[str, timedelta]], dict[str, timedelta]]:
    """(aggregate -> (raw table, bucket width)) and (aggregate -> start_offset) after
    `migrations`, applied in order."""
    views: dict[str, tuple[str, timedelta]] = {}
    offsets: dict[str, timedelta] = {}
    for migration in migrations:
        sql = re.sub(r"--.*$", "", migration.sql, flags=re.MULTILINE)
        for statement in sql.split(";"):
            if view := _VIEW.search(statement):
                views[view.group(1)] = (view.group(3), interval(view.group(2)))
            if removed := _REMOVE.search(statement):
                offsets.pop(removed.group(1), None)
            if added := _ADD.search(statement):
                assert added.group(1) not in offsets, f"{added.group(1)}: second policy"
                offsets[added.group(1)] = interval(added.group(2))
    return views, offsets


def shortfalls(migrations: Sequence[Migration]) -> list[str]:
    """Every aggregate whose refresh window misses late events, and why."""
    views, offsets = final_policies(migrations)
    assert "camera_minute" in views and "footfall_15m" in views  # the parser found them
    assert set(offsets) == set(views), "every continuous aggregate needs a refresh policy"
    found = []
    for name, (table, bucket) in views.items():
        while table in views:  # a hierarchical aggregate: down to the raw table
            table = views[table][0]
        stream = FED_BY[table]
        late = timedelta(seconds=stream.max_age_s)
        if offsets[name] < late + bucket:
            found.append(
                f"{name} looks back {offsets[name]}, but {table} gets events up to {late} "
                f"late ({stream.name}'s max age) and its buckets are {bucket}"
            )
    return found


def test_every_refresh_policy_covers_its_streams_max_age() -> None:
    assert shortfalls(plan(Dialect.TIMESCALE)) == []


def test_the_check_catches_the_old_three_hour_window() -> None:
    before = [m for m in plan(Dialect.TIMESCALE) if m.number < 8]
    assert [s.split(" ")[0] for s in shortfalls(before)] == ["camera_minute"]


def test_personal_data_chunks_are_a_day_and_no_fixed_retention_is_left() -> None:
    """Retention drops whole chunks: chunks of personal data span a day at most, and the
    TRINETRA_RETENTION__* settings (applied by the gateway) are the only retention."""
    chunk: dict[str, timedelta] = {}
    retention: set[str] = set()
    for migration in plan(Dialect.TIMESCALE):
        sql = re.sub(r"--.*$", "", migration.sql, flags=re.MULTILINE)
        for table, width in re.findall(
            r"create_hypertable\('(\w+)', by_range\('\w+', INTERVAL '([^']+)'\)", sql
        ):
            chunk[table] = interval(width)
        for table, width in re.findall(
            r"set_chunk_time_interval\('(\w+)', INTERVAL '([^']+)'\)", sql
        ):
            chunk[table] = interval(width)
        retention |= set(re.findall(r"add_retention_policy\('(\w+)'", sql))
        retention -= set(re.findall(r"remove_retention_policy\('(\w+)'", sql))
    personal = ("identity_events", "track_events", "visits", "zone_stays", "line_crossings")
    for table in personal:
        assert chunk[table] <= timedelta(days=1), table
    assert retention == set()
