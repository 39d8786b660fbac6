"""Rule alerts in the database, through the gateway's own ingest writer on real
PostgreSQL: alert.raised is a row of `alerts` (listable, acknowledgeable), alert.resolved
closes it in either arrival order, a replay changes nothing, and erasure leaves no
customer id behind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import asyncpg
import pytest

from analytics.alerts.engine import AlertEngine
from analytics.alerts.inputs import IdentityResolved, QueueState
from gateway.db import writes
from gateway.db.database import Database
from gateway.ingest.writer import BatchWriter, Received
from tests.analytics.alerts.rules.helpers import CAM, config, raised, resolved, t
from trinetra.events.schema import Event, RuleAlertEvent, encode, subject_for

pytestmark = pytest.mark.timeout(120)

RULES = (
    {"kind": "queue_length", "id": "long-queue", "name": "Long queue", "zone_id": "queue",
     "min_length": 3, "for_s": 0, "severity": "critical"},
    {"kind": "vip_arrival", "id": "vip", "name": "VIP", "severity": "info"},
)  # fmt: skip


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.start()
    try:
        yield database
    finally:
        await database.close()


async def write(db: Database, events: Sequence[Event]) -> None:
    items = [Received(lambda: 0, subject_for(e), encode(e), e) for e in events]
    await BatchWriter(db, "ALERTS").write(items)


def lifecycle() -> tuple[RuleAlertEvent, RuleAlertEvent]:
    engine = AlertEngine(config(*RULES))
    (opened,) = raised(engine.feed(QueueState(CAM, "queue", 4, None, t(0))))
    (closed,) = resolved(engine.feed(QueueState(CAM, "queue", 1, None, t(30))))
    return opened, closed


async def alert_row(conn: asyncpg.Connection, event: RuleAlertEvent) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT * FROM alerts WHERE event_id = $1", event.event_id
    )
    return row


@pytest.mark.parametrize("order", ["raised_first", "resolved_first"])
async def test_a_resolve_closes_its_alert_in_either_order_and_a_replay_changes_nothing(
    db: Database, order: str
) -> None:
    opened, closed = lifecycle()
    batches = [[opened], [closed]] if order == "raised_first" else [[closed], [opened]]
    for batch in [*batches, [opened, closed]]:  # the last one: a replay
        await write(db, batch)
    async with db.connection() as conn:
        row = await alert_row(conn, opened)
        assert (row["kind"], row["severity"], row["rule_id"]) == (
            "alert.raised",
            "critical",
            "long-queue",
        )
        assert row["dedup_key"] == opened.dedup_key
        assert row["occurred_at"] == opened.occurred_at
        assert row["resolved_at"] == closed.occurred_at
        assert row["resolved_event_id"] == closed.event_id
        assert row["resolve_reason"] == "cleared"
        details = row["details"]
        assert details["rule_kind"] == "queue_length" and details["value"] == 4.0
        assert details["subject"] == {"camera_id": CAM, "zone_id": "queue", "line_id": None}
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 1
        assert await conn.fetchval("SELECT count(*) FROM alert_resolutions") == 1


async def test_a_rule_alert_is_acknowledged_like_any_alert(db: Database) -> None:
    opened, _ = lifecycle()
    await write(db, [opened])
    async with db.connection() as conn:
        acked = await writes.acknowledge_alert(conn, opened.event_id, "operator-1", "on it")
        assert acked is not None
        assert acked["acknowledged_by"] == "operator-1" and acked["ack_note"] == "on it"
        row = await alert_row(conn, opened)
        assert row["acknowledged_at"] is not None and row["resolved_at"] is None


async def test_a_vip_alert_names_its_customer_in_one_column_only(db: Database) -> None:
    engine = AlertEngine(config(*RULES))
    (vip,) = raised(engine.feed(IdentityResolved(CAM, 5, "cust-77", True, t(0))))
    await write(db, [vip])
    async with db.connection() as conn:
        row = await alert_row(conn, vip)
        assert row["customer_id"] == "cust-77"
        assert "cust-77" not in str(row["details"]) + row["dedup_key"]
        await writes.forget_customer(conn, "cust-77", vip.occurred_at + timedelta(seconds=1))
        assert (await alert_row(conn, vip))["customer_id"] is None
