"""Bus -> database: idempotent batches, ack after commit, database outages, and a gateway
killed mid-stream. Real NATS JetStream, real PostgreSQL, the orchestrator's publisher."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import nats
import pytest

from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from gateway.config import IngestSettings
from gateway.db.database import Database
from gateway.ingest.service import IngestService
from gateway.metrics import GatewayMetrics
from tests.gateway.helpers import (
    SECRET,
    STORE,
    T0,
    RunningGateway,
    camera_status,
    detections,
    track_lifecycle,
)
from tests.support.metrics import read_metric
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.postgres import PostgresFactory, migrate_dsn
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import encode, subject_for, tracks_subject
from trinetra.vocabulary import EventKind

pytestmark = pytest.mark.timeout(180)


async def scalar(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_redelivered_and_malformed_messages_are_stored_once(
    gateway: RunningGateway, publisher: EventPublisher, nats_server: NatsServer
) -> None:
    dsn = gateway.gateway.settings.database_url.get_secret_value()
    tracks = track_lifecycle("cam-1", 1, T0, updates=5)
    frames = detections("cam-1", T0, 20)
    statuses = [
        camera_status("cam-1", "live", T0),
        camera_status("cam-1", "error", T0 - timedelta(seconds=5)),
    ]
    for event in [*tracks, *frames, *statuses]:
        publisher.publish(event)
    assert await publisher.flush(10)
    # A poison message on a tracks subject: stored aside, never blocking the stream.
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.publish(
        tracks_subject(STORE, "cam-1"), b'{"schema_version": 1, "kind": "track.started"}'
    )

    async def settled() -> bool:
        return (
            await scalar(dsn, "SELECT count(*) FROM track_events") == len(tracks)
            and await scalar(dsn, "SELECT count(*) FROM detections") == len(frames)
            and await scalar(dsn, "SELECT count(*) FROM camera_status_events") == 2
            and await scalar(dsn, "SELECT count(*) FROM rejected_events") == 1
        )

    await eventually(settled)
    # The older status arrived last but does not win.
    assert await scalar(dsn, "SELECT count(*) FROM cameras WHERE status = 'live'") == 1
    assert await scalar(dsn, "SELECT samples FROM tracks") == 6

    # The same events again under new message ids (past JetStream's dedup): a redelivery
    # as the database sees it. Nothing is stored twice, derived rows do not move.
    for event in [*tracks, *frames]:
        await js.publish(subject_for(event), encode(event))
    stored = gateway.gateway.metrics.registry

    def duplicates() -> float:
        return sum(
            read_metric(stored, "trinetra_gateway_ingest_duplicates_total", {"stream": stream})
            for stream in ("TRACKS", "DETECTIONS")
        )

    await eventually(lambda: duplicates() == len(tracks) + len(frames))
    await nc.close()
    assert await scalar(dsn, "SELECT count(*) FROM track_events") == len(tracks)
    assert await scalar(dsn, "SELECT count(*) FROM detections") == len(frames)
    assert await scalar(dsn, "SELECT samples FROM tracks") == 6
    assert await scalar(dsn, "SELECT frames_seen FROM tracks WHERE ended") == 51
    conn = await asyncpg.connect(dsn)
    rejected = await conn.fetchrow("SELECT stream, subject, error FROM rejected_events")
    await conn.close()
    assert rejected["stream"] == "TRACKS" and rejected["subject"] == "trinetra.blr-01.cam-1.tracks"
    assert rejected["error"].startswith("invalid track.started payload")


@contextlib.asynccontextmanager
async def ingest_only(nats_url: str, dsn: str) -> AsyncIterator[GatewayMetrics]:
    """Just the ingest part of the gateway, with test timings."""
    metrics = GatewayMetrics()
    connection = NatsConnection(nats_url, reconnect_time_wait_s=0.05)
    db = Database(dsn, max_size=4, statement_timeout_s=5)
    await connection.start()
    await db.start()
    settings = IngestSettings(
        streams=("TRACKS",), ack_wait_s=1.5, batch_window_s=0.01, retry_backoff_s=(0.05, 0.3)
    )
    service = IngestService(connection, db, settings, metrics)
    service.start()
    try:
        yield metrics
    finally:
        await service.stop(timeout_s=2)
        await db.close()
        await connection.close()


async def test_database_outage_pauses_consumption_without_acks_or_loss(
    postgres_factory: PostgresFactory, nats_server: NatsServer, publisher: EventPublisher
) -> None:
    postgres = postgres_factory()
    dsn = postgres.create_database("trinetra")
    await migrate_dsn(dsn)
    before = track_lifecycle("cam-1", 1, T0, updates=20)
    during = [e for i in range(2, 12) for e in track_lifecycle("cam-1", i, T0, updates=20)]
    async with ingest_only(nats_server.url, dsn) as metrics:
        for event in before:
            publisher.publish(event)
        await eventually(lambda: scalar(dsn, "SELECT count(*) FROM track_events"))
        await eventually(
            lambda: (
                read_metric(
                    metrics.registry, "trinetra_gateway_ingest_stored_total", {"stream": "TRACKS"}
                )
                == len(before)
            )
        )

        postgres.stop()
        for event in during:
            publisher.publish(event)
        assert await publisher.flush(10)
        paused = {"stream": "TRACKS"}
        await eventually(
            lambda: read_metric(metrics.registry, "trinetra_gateway_ingest_paused", paused) == 1
        )
        # Longer than ack_wait: held messages must be kept alive, nothing acked.
        await asyncio.sleep(3)
        nc = await nats.connect(nats_server.url)
        info = await nc.jetstream().consumer_info("TRACKS", "trinetra-gateway-tracks")
        await nc.close()
        assert info.ack_floor.stream_seq == len(before)  # nothing acked while down
        assert info.num_ack_pending + info.num_pending == len(during)

        postgres.start()
        await eventually(
            lambda: read_metric(metrics.registry, "trinetra_gateway_ingest_paused", paused) == 0,
            timeout_s=30,
        )
        expected = len(before) + len(during)
        await eventually(
            lambda: scalar(dsn, "SELECT count(*) FROM track_events"),
            timeout_s=30,
        )
        await eventually(
            lambda: _equals(scalar(dsn, "SELECT count(*) FROM track_events"), expected),
            timeout_s=30,
        )
        assert await scalar(dsn, "SELECT count(*) FROM tracks WHERE ended AND samples = 21") == 11


async def _equals(value: object, expected: int) -> bool:
    assert asyncio.iscoroutine(value)
    return bool(await value == expected)


def _spawn_gateway(
    env: dict[str, str], log: Path, module: str = "gateway"
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_a_gateway_killed_mid_stream_stores_every_event_exactly_once(
    database_url: str, nats_server: NatsServer, publisher: EventPublisher, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TRINETRA_DATABASE_URL": database_url,
        "TRINETRA_NATS_URL": nats_server.url,
        "TRINETRA_JWT_SECRET": SECRET,
        "TRINETRA_PORT": str(free_port()),
        "TRINETRA_STORE_ID": STORE,
        "TRINETRA_INGEST__STREAMS": '["TRACKS"]',
        "TRINETRA_INGEST__ACK_WAIT_S": "2",
        "TRINETRA_INGEST__BATCH_SIZE": "100",
        "TRINETRA_LOG_JSON": "false",
    }
    events = [
        e
        for i in range(300)
        for e in track_lifecycle(f"cam-{i % 4}", i, T0 + timedelta(seconds=i), updates=8)
    ]
    count = "SELECT count(*) FROM track_events"

    async def publish_steadily() -> None:
        for start in range(0, len(events), 50):
            for event in events[start : start + 50]:
                publisher.publish(event)
            await asyncio.sleep(0.02)
        assert await publisher.flush(20)

    process = _spawn_gateway(env, tmp_path / "gateway.log")
    try:
        publishing = asyncio.create_task(publish_steadily())
        # Kill it while it is storing: some events in, more still coming.
        stored = await eventually(
            lambda: _between(scalar(database_url, count), 200, len(events) - 500), timeout_s=60
        )
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = await scalar(database_url, count)
        assert stored <= killed_at < len(events)
        await publishing

        # Back as an ingest-only process (the same consumer, without the API).
        process = _spawn_gateway(env, tmp_path / "gateway.log", "gateway.ingest")
        await eventually(lambda: _equals(scalar(database_url, count), len(events)), timeout_s=90)
        await asyncio.sleep(2.5)  # past ack_wait: any redelivery would have landed by now
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    conn = await asyncpg.connect(database_url)
    try:
        ids = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM track_events")}
        samples = await conn.fetchval("SELECT sum(samples) FROM tracks")
        ended = await conn.fetchval("SELECT count(*) FROM tracks WHERE ended")
    finally:
        await conn.close()
    assert ids == {e.event_id for e in events}
    # Derived rows count each event once even though some were delivered twice.
    assert samples == sum(1 for e in events if e.kind is not EventKind.TRACK_ENDED) == 300 * 9
    assert ended == 300


async def _between(value: object, low: int, high: int) -> int | None:
    assert asyncio.iscoroutine(value)
    result = int(await value)
    return result if low <= result <= high else None
