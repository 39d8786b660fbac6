"""The embedded PostgreSQL as the project runs it.

- Durable wherever it ships: the demo's server reports fsync and synchronous_commit on,
  and a durable server killed with SIGKILL right after the gateway acked events still
  has every one of them after its restart (JetStream never redelivers an acked event, so
  a lost commit would be lost for good). Only test databases run throwaway.
- Usable as the "external" database of the suite: pointed at by
  TRINETRA_TEST_DATABASE_URL, a separately started server holds the databases of the
  gateway's database tests (tests/support/postgres.py).
"""

from __future__ import annotations

import ast
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import nats
import pytest
from nats.aio.msg import Msg

from devservices.paths import REPO_ROOT
from devservices.postgres import LocalPostgres
from gateway.config import IngestSettings
from gateway.db.database import Database
from gateway.ingest.service import IngestService
from gateway.metrics import GatewayMetrics
from tests.gateway.helpers import T0, track_lifecycle
from tests.support.nats_server import NatsServer
from tests.support.postgres import EXTERNAL_DATABASE_URL_ENV, PostgresFactory, migrate_dsn
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import decode

pytestmark = pytest.mark.timeout(240)

DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


def durability_of(server: LocalPostgres) -> dict[str, str]:
    """The server's own answer to SHOW, for each durability setting."""

    async def ask() -> dict[str, str]:
        conn = await asyncpg.connect(server.url)
        try:
            return {setting: await conn.fetchval(f"SHOW {setting}") for setting in DURABILITY}
        finally:
            await conn.close()

    return asyncio.run(ask())


def demo_postgres_arguments() -> dict[str, Any]:
    """The keyword arguments devservices/demo.py gives LocalPostgres (it must give only
    literals, and construct it once)."""
    tree = ast.parse((REPO_ROOT / "devservices" / "demo.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "LocalPostgres"
    ]
    assert len(calls) == 1, "the demo constructs its PostgreSQL once"
    (call,) = calls
    assert not call.args
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg is not None}


def test_the_demo_runs_a_durable_postgresql(tmp_path: Path) -> None:
    arguments = demo_postgres_arguments()
    with LocalPostgres(**arguments, log_path=tmp_path / "demo-postgres.log") as demo:
        assert durability_of(demo) == dict.fromkeys(DURABILITY, "on")
    # The fast mode exists, named for what it is, and the check above would see it.
    with LocalPostgres(throwaway=True, log_path=tmp_path / "throwaway.log") as throwaway:
        assert durability_of(throwaway) == dict.fromkeys(DURABILITY, "off")


ACKS_BEFORE_KILL = 200


async def test_a_killed_durable_postgresql_keeps_every_event_the_gateway_acked(
    postgres_factory: PostgresFactory, nats_server: NatsServer
) -> None:
    postgres = postgres_factory(throwaway=False)
    dsn = postgres.create_database("trinetra")
    await migrate_dsn(dsn)

    # What the gateway acks, seen on the wire: every ack goes to the message's reply
    # subject, $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...
    acked: set[int] = set()
    killed = asyncio.Event()

    async def on_ack(msg: Msg) -> None:
        # The same subject carries "work in progress" (+WPI, sent for a batch held while
        # the database is down) and naks: only a real ack counts.
        if msg.data not in (b"", b"+ACK"):
            return
        acked.add(Msg.Metadata._from_reply(msg.subject).sequence.stream)
        if len(acked) >= ACKS_BEFORE_KILL and not killed.is_set():
            pid = postgres.pid
            assert pid is not None
            os.killpg(pid, signal.SIGKILL)  # kill -9, every process of the server at once
            killed.set()

    watcher = await nats.connect(nats_server.url)
    await watcher.subscribe("$JS.ACK.TRACKS.>", cb=on_ack)
    await watcher.flush()

    connection = NatsConnection(nats_server.url, reconnect_time_wait_s=0.05)
    publisher = EventPublisher(connection, retry_backoff_s=(0.02, 0.2))
    await publisher.start()
    db = Database(dsn, max_size=4, statement_timeout_s=5)
    await db.start()
    ingest = IngestService(
        connection,
        db,
        IngestSettings(
            streams=("TRACKS",),
            batch_size=20,  # many small commits: one of them is the last before the kill
            batch_window_s=0.005,
            ack_wait_s=30,
            retry_backoff_s=(0.05, 0.3),
            stream_wait_s=0.2,
        ),
        GatewayMetrics(),
    )
    ingest.start()

    async def publish_steadily() -> None:
        for track_id in range(1, 200):
            for event in track_lifecycle("cam-1", track_id, T0, updates=8):
                publisher.publish(event)
            await asyncio.sleep(0.01)

    feeding = asyncio.create_task(publish_steadily())
    try:
        await asyncio.wait_for(killed.wait(), 120)
        # Nothing can commit any more, so nothing more is acked once the ingest stops.
        await asyncio.wait({asyncio.ensure_future(ingest.stop(timeout_s=2))}, timeout=15)
        await watcher.drain()
    finally:
        feeding.cancel()
        await publisher.close(timeout_s=2)
        await asyncio.wait({asyncio.ensure_future(db.close())}, timeout=10)
        await connection.close()
    await asyncio.to_thread(postgres.start)  # crash recovery from the WAL

    js_client = await nats.connect(nats_server.url)
    try:
        js = js_client.jetstream()
        acked_ids = set()
        for seq in sorted(acked):
            stored = await js.get_msg("TRACKS", seq)
            assert stored.data is not None
            acked_ids.add(decode(stored.data).event_id)
    finally:
        await js_client.close()
    conn = await asyncpg.connect(dsn)
    try:
        in_database = {
            row["event_id"] for row in await conn.fetch("SELECT event_id FROM track_events")
        }
    finally:
        await conn.close()
    lost = acked_ids - in_database
    assert len(acked_ids) >= ACKS_BEFORE_KILL
    assert not lost, f"{len(lost)} of {len(acked_ids)} acked events lost by the crash"


# A test of the switch itself: run under the external URL, it sees where its database is.
PROBE = """
from urllib.parse import urlsplit

import asyncpg


async def test_the_database_is_on_the_external_server(database_url: str) -> None:
    assert urlsplit(database_url).port == {port}
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
        assert (await conn.fetchval("SELECT current_database()")).startswith("trinetra_test_")
    finally:
        await conn.close()
"""


def test_the_database_tests_run_on_an_external_server_by_url(tmp_path: Path) -> None:
    # Under the repository (the root conftest places every item relative to it), in an
    # ignored folder no other run collects.
    probes = REPO_ROOT / ".cache" / "test-probes" / tmp_path.name
    probes.mkdir(parents=True, exist_ok=True)
    with LocalPostgres(throwaway=True, log_path=tmp_path / "external.log") as external:
        port = urlsplit(external.url).port
        probe = probes / "test_probe.py"
        probe.write_text(textwrap.dedent(PROBE.format(port=port)))
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.support.postgres",  # the fixtures, for the probe outside tests/
                "tests/gateway/db",
                "tests/sql/test_migrations.py",
                str(probe),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, EXTERNAL_DATABASE_URL_ENV: external.url},
            capture_output=True,
            text=True,
            timeout=200,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        assert " passed" in run.stdout and "failed" not in run.stdout
        databases = {
            line.strip() for line in external.psql("SELECT datname FROM pg_database").splitlines()
        }
        # Cleaned up after itself.
        assert not [d for d in databases if d.startswith("trinetra_test_")]
    shutil.rmtree(probes, ignore_errors=True)
