"""Gateway benchmarks against real services (embedded PostgreSQL 18 with durable settings,
embedded NATS JetStream, the gateway as its own process):

1. Ingest: events/s from JetStream into PostgreSQL (target >= 20k/s on 2 cores), per
   event kind: N events are published first, then the gateway's ingest (one durable pull
   consumer, COPY into staging + INSERT ... ON CONFLICT, ack after commit) is timed until
   every one is stored. Decoding (schema.decode) is part of the figure.
1b. The same with 1 and 2 ingest processes (`python -m gateway.ingest`) sharing the
   durable consumer, timed by the database's clock (first to last batch).
2. Subscription fan-out: 100 graphql-transport-ws subscribers on `trackEvents`, track
   events published at a steady rate; latency = received by the client minus the event's
   published_at (same clock), p50/p99 per rate.
3. Query latency over one hour of data from 8 cameras at realistic rates (10 fps
   detections with 0-6 persons; a new track every 4 s per camera, an update every
   0.5 s, 20-60 s long): ~290k detections, ~7k tracks, ~300k track events, generated in
   SQL; each GraphQL query timed over HTTP, p50/p99.

    .venv/bin/python perf/bench_gateway.py [--events 20000] [--subscribers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import nats.js.errors
import websockets

from devservices.nats import NatsServer
from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from gateway.auth import issue_token
from gateway.config import IngestSettings
from gateway.db.database import Database
from gateway.db.migrations import migrate
from gateway.ingest.service import IngestService
from gateway.metrics import GatewayMetrics
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    BoundingBox,
    DetectedPerson,
    DetectionsEvent,
    Event,
    TrackUpdatedEvent,
    encode,
    make_track_uid,
    subject_for,
)
from trinetra.events.streams import ALL_STREAMS

SECRET = "bench-secret-of-at-least-thirty-two-characters"
STORE = "store-1"
BOX = BoundingBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6)
CAMERAS = [f"cam-{i}" for i in range(8)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5):7.2f} ms  p99 {percentile(values, 0.99):7.2f} ms  "
        f"mean {statistics.fmean(values):7.2f} ms  (n={len(values)})"
    )


# --- 1. ingest ----------------------------------------------------------------------------


def track_updates(n: int, start: datetime) -> list[Event]:
    events: list[Event] = []
    for i in range(n):
        camera = CAMERAS[i % 8]
        track = i // 40
        uid = make_track_uid(STORE, camera, track, start)
        events.append(
            TrackUpdatedEvent(
                camera_id=camera,
                store_id=STORE,
                occurred_at=start + timedelta(milliseconds=i * 5),
                track_id=track,
                track_uid=uid,
                frame_seq=i,
                box=BOX,
                score=0.8,
                sample_every_frames=5,
            )
        )
    return events


def frames(n: int, start: datetime, persons: int) -> list[Event]:
    people = tuple(DetectedPerson(box=BOX, score=0.8, track_id=j) for j in range(persons))
    return [
        DetectionsEvent(
            camera_id=CAMERAS[i % 8],
            store_id=STORE,
            occurred_at=start + timedelta(milliseconds=i * 5),
            frame_seq=i,
            frame_width=1920,
            frame_height=1080,
            persons=people,
            face_count=0,
        )
        for i in range(n)
    ]


async def bench_ingest(nats_url: str, dsn: str, count: int) -> None:
    print(f"\n1. ingest: {count} events per kind, JetStream -> PostgreSQL (one consumer)")
    start = datetime.now(UTC) - timedelta(minutes=30)
    cases: list[tuple[str, str, list[Event]]] = [
        ("track.updated", "TRACKS", track_updates(count, start)),
        ("detections, 2 persons", "DETECTIONS", frames(count, start, 2)),
        ("detections, 6 persons", "DETECTIONS", frames(count, start + timedelta(hours=1), 6)),
    ]
    connection = NatsConnection(nats_url)
    publisher = EventPublisher(
        connection, streams=ALL_STREAMS, max_buffer_events=count * 2, max_in_flight=1024
    )
    await publisher.start()
    db = Database(dsn, max_size=4)
    await db.start()
    nc = await nats.connect(nats_url)
    for done, (name, stream, events) in enumerate(cases):
        if done:  # a new consumer would replay the previous case's events too
            await nc.jetstream().purge_stream(stream)
        for event in events:
            publisher.publish(event)
        assert await publisher.flush(300), "publishing stalled"
        metrics = GatewayMetrics()
        settings = IngestSettings(streams=(stream,), durable_prefix=f"bench{done}")
        service = IngestService(connection, db, settings, metrics)
        started, cpu = time.perf_counter(), time.process_time()
        service.start()
        key = {"stream": stream}
        while True:
            stored = metrics.registry.get_sample_value("trinetra_gateway_ingest_stored_total", key)
            if (stored or 0) >= len(events):
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        cpu_share = (time.process_time() - cpu) / elapsed
        await service.stop()
        print(
            f"   {name:24s} {len(events) / elapsed:8.0f} events/s   "
            f"(gateway process at {cpu_share:.0%} of a core; the rest is PostgreSQL)"
        )
    await nc.close()
    await publisher.close()
    await connection.close()
    await db.close()


# --- gateway process ------------------------------------------------------------------


def spawn_gateway(
    dsn: str, nats_url: str, port: int, log: Path, module: str = "gateway", **overrides: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRINETRA_DATABASE_URL": dsn,
        "TRINETRA_NATS_URL": nats_url,
        "TRINETRA_JWT_SECRET": SECRET,
        "TRINETRA_PORT": str(port),
        "TRINETRA_STORE_ID": STORE,
        "TRINETRA_INGEST__ENABLED": "false",
        "TRINETRA_LOG_LEVEL": "WARNING",
        "TRINETRA_LIVE__SUBSCRIBER_QUEUE": "1024",
        "TRINETRA_LIMITS__MAX_ALIASES": "30",
        **overrides,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


async def bench_scale_out(nats_url: str, dsn: str, count: int, workdir: Path) -> None:
    """Ingest processes sharing one durable consumer: the way ingest scales past a core.
    Rate from the database's own clock (first to last batch), so process start-up is
    not counted."""
    print(f"\n1b. ingest scale-out: {count} events, N gateway processes on one durable consumer")
    connection = NatsConnection(nats_url)
    publisher = EventPublisher(
        connection, streams=ALL_STREAMS, max_buffer_events=count * 2, max_in_flight=1024
    )
    await publisher.start()
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(dsn)
    cases: list[tuple[str, str, str, Callable[[datetime], list[Event]]]] = [
        ("track.updated", "TRACKS", "track_events", lambda t: track_updates(count, t)),
        ("detections, 2 persons", "DETECTIONS", "detections", lambda t: frames(count, t, 2)),
    ]
    try:
        for round_, (name, stream, table, make) in enumerate(cases):
            for processes in (1, 2):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await nc.jetstream().purge_stream(stream)
                await conn.execute(f"TRUNCATE {table}")
                start = datetime.now(UTC) - timedelta(minutes=40 + 10 * round_ + processes)
                for event in make(start):
                    publisher.publish(event)
                assert await publisher.flush(300), "publishing stalled"
                spawned = [
                    spawn_gateway(
                        dsn,
                        nats_url,
                        free_port(),
                        workdir / "scale.log",
                        "gateway.ingest",
                        TRINETRA_INGEST__ENABLED="true",
                        TRINETRA_INGEST__STREAMS=f'["{stream}"]',
                        TRINETRA_INGEST__DURABLE_PREFIX=f"scale{round_}{processes}",
                    )
                    for _ in range(processes)
                ]
                try:
                    while True:
                        if await conn.fetchval(f"SELECT count(*) FROM {table}") >= count:
                            break
                        await asyncio.sleep(0.1)
                finally:
                    for process in spawned:
                        stop(process)
                span = await conn.fetchval(
                    f"SELECT extract(epoch FROM max(ingested_at) - min(ingested_at)) FROM {table}"
                )
                print(f"   {name:24s} {processes} process(es): {count / float(span):8.0f} events/s")
    finally:
        await conn.close()
        await nc.close()
        await publisher.close()
        await connection.close()


async def wait_ready(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("gateway not ready")


# --- 2. fan-out ---------------------------------------------------------------------------

SUBSCRIPTION = """subscription($minScore: Float) {
  trackEvents(minScore: $minScore) { cameraId trackId publishedAt }
}"""


async def subscriber(
    url: str, bearer: str, latencies: list[float], ready: asyncio.Event, min_score: float
) -> None:
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], max_queue=None
    ) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        await ws.send(json.dumps(init))
        await ws.recv()
        query = {"query": SUBSCRIPTION, "variables": {"minScore": min_score}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": query}))
        ready.set()
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            if message.get("type") != "next":
                continue
            event = message["payload"]["data"]["trackEvents"]
            sent = datetime.fromisoformat(event["publishedAt"]).timestamp()
            latencies.append((received - sent) * 1000)


async def bench_fanout(
    url: str, nats_url: str, subscribers: int, seconds: float, distinct: bool
) -> None:
    kind = (
        "each a different query (nothing shared: the worst case)"
        if distinct
        else "the same query (one shared execution)"
    )
    print(f"\n2. fan-out: {subscribers} subscribers on trackEvents, {kind}, {seconds:g} s a rate")
    bearer = issue_token(SECRET, "bench", ["viewer"], ttl_s=3600)
    ws_url = url.replace("http", "ws") + "/graphql"
    latencies: list[float] = []
    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [
        asyncio.create_task(
            subscriber(ws_url, bearer, latencies, ready, i * 1e-6 if distinct else 0.0)
        )
        for i, ready in enumerate(readies)
    ]
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 60)
    await asyncio.sleep(1.0)
    nc = await nats.connect(nats_url)
    start = datetime.now(UTC)
    for rate in (20, 80) if distinct else (20, 80, 200):
        latencies.clear()
        interval = 1.0 / rate
        sent = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            camera = CAMERAS[sent % 8]
            event = TrackUpdatedEvent(
                camera_id=camera,
                store_id=STORE,
                occurred_at=start + timedelta(milliseconds=sent),
                track_id=sent % 50,
                track_uid=make_track_uid(STORE, camera, sent % 50, start),
                frame_seq=sent,
                box=BOX,
                score=0.8,
                sample_every_frames=5,
            )
            await nc.publish(subject_for(event), encode(event))
            sent += 1
            delay = began + sent * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.sleep(2.0)  # let the tail arrive
        expected = sent * subscribers
        print(
            f"   {rate:4d} events/s -> {rate * subscribers:6d} deliveries/s: {summary(latencies)}"
            f"  delivered {len(latencies)}/{expected}"
        )
    await nc.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- 3. queries ---------------------------------------------------------------------------

GENERATE = """
-- 8 cameras x 10 fps x 1 hour of detections, 0-6 persons a frame, ingested as they
-- happened (so the gateway's incremental rollup refresh sees nothing new)
INSERT INTO detections (occurred_at, event_id, store_id, camera_id, frame_seq, frame_width,
    frame_height, person_count, face_count, persons, model_versions, published_at,
    ingested_at)
SELECT t, gen_random_uuid(), $1, 'cam-' || c, s, 1920, 1080, p, 0,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(0.1, 0.2, 0.3, 0.6, 0.8, k)), '[]')
          FROM generate_series(1, p) k),
       NULL, t, t
FROM generate_series(0, 7) c,
     generate_series(0, 35999) s,
     LATERAL (SELECT $2::timestamptz + s * INTERVAL '100 ms' AS t,
                     (abs(hashint4(s * 8 + c)) % 7) AS p) x;

-- a track every 4 s per camera, 20-60 s long
INSERT INTO tracks (track_uid, store_id, camera_id, track_id, first_seen_at, last_seen_at,
    last_box, last_score, box_at, samples, ended, ended_at, end_reason, duration_s,
    frames_seen, path_length)
SELECT gen_random_uuid(), $1, 'cam-' || c, n, f, f + d, '{"x1":0.1,"y1":0.2,"x2":0.3,"y2":0.6}',
       0.8, f + d, (extract(epoch FROM d) * 2)::int, true, f + d + INTERVAL '1 s', 'lost',
       extract(epoch FROM d), (extract(epoch FROM d) * 10)::int, 0.5
FROM generate_series(0, 7) c, generate_series(0, 899) n,
     LATERAL (SELECT $2::timestamptz + n * INTERVAL '4 s' AS f,
                     (20 + abs(hashint4(n * 8 + c)) % 40) * INTERVAL '1 s' AS d) x;

-- an update every 0.5 s of each track
INSERT INTO track_events (occurred_at, event_id, store_id, camera_id, kind, track_id,
    track_uid, frame_seq, x1, y1, x2, y2, score, sample_every_frames, published_at)
SELECT t.first_seen_at + k * INTERVAL '500 ms', gen_random_uuid(), t.store_id, t.camera_id,
       'track.updated', t.track_id, t.track_uid, k * 5, 0.1, 0.2, 0.3, 0.6, 0.8, 5,
       t.first_seen_at + k * INTERVAL '500 ms'
FROM tracks t, generate_series(0, t.samples - 1) k;
"""


async def generate_hour(dsn: str, start: datetime) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        began = time.perf_counter()
        # Only this hour: nothing left over from the ingest parts.
        await conn.execute("TRUNCATE detections, track_events, tracks, camera_minute, rollup_state")
        await conn.execute("SET synchronous_commit = off")
        await conn.execute(GENERATE.replace("$1", f"'{STORE}'").replace("$2", f"'{start}'"))
        # The whole hour into the rollup at once (the gateway refreshes incrementally).
        await conn.execute(
            """
            INSERT INTO camera_minute (store_id, camera_id, bucket, frames, person_sum,
                person_max)
            SELECT store_id, camera_id,
                   date_bin(INTERVAL '1 minute', occurred_at, TIMESTAMPTZ '2000-01-01'),
                   count(*), sum(person_count), max(person_count)
            FROM detections GROUP BY 1, 2, 3
            """
        )
        # Vacuumed and analysed now, so autovacuum does not run during the timings.
        await conn.execute("VACUUM ANALYZE")
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("detections", "tracks", "track_events", "camera_minute")
        }
        print(f"   generated in {time.perf_counter() - began:.1f} s: {counts}")
    finally:
        await conn.close()


QUERIES: dict[str, str] = {
    "cameras": "{ cameras { id status } }",
    "detections, 10 min, first 100": """query($c: String!, $from: DateTime!, $to: DateTime!) {
        detections(cameraId: $c, from: $from, to: $to, first: 100) {
          nodes { id occurredAt personCount persons { score box { x1 y1 x2 y2 } } }
          pageInfo { endCursor hasNextPage } } }""",
    "detections, page 5 of the hour": "PAGED",
    "tracks, 1 h, first 100": """query($c: String!, $from: DateTime!, $to: DateTime!) {
        tracks(cameraId: $c, from: $from, to: $to, first: 100) {
          nodes { uid trackId firstSeenAt lastSeenAt durationS lastBox { x1 } }
          pageInfo { endCursor hasNextPage } } }""",
    "occupancy, 8 cameras x 60 min": """query($from: DateTime!, $to: DateTime!) {
        occupancy(from: $from, to: $to) { cameraId bucket frames avgPersons maxPersons } }""",
}


async def bench_queries(url: str, dsn: str, runs: int) -> None:
    print("\n3. queries over one hour of data from 8 cameras")
    start = (datetime.now(UTC) - timedelta(hours=1, minutes=5)).replace(microsecond=0)
    await generate_hour(dsn, start)
    bearer = issue_token(SECRET, "bench", ["viewer"], ttl_s=3600)
    headers = {"Authorization": f"Bearer {bearer}"}
    end = start + timedelta(hours=1)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:

        async def run(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = await http.post("/graphql", json={"query": query, "variables": variables})
            body: dict[str, Any] = response.json()
            assert "errors" not in body, body
            return body

        async def paged(camera: str) -> None:
            query = (
                QUERIES["detections, 10 min, first 100"]
                .replace("first: 100)", "first: 100, after: $after)")
                .replace("$to: DateTime!)", "$to: DateTime!, $after: String)")
            )
            after = None
            for _ in range(5):
                body = await run(
                    query,
                    {"c": camera, "from": start.isoformat(), "to": end.isoformat(), "after": after},
                )
                after = body["data"]["detections"]["pageInfo"]["endCursor"]

        for name, query in QUERIES.items():
            timings: list[float] = []
            for i in range(-5, runs):  # five untimed warm-up runs first
                camera = CAMERAS[abs(i) % 8]
                window = start + timedelta(minutes=random.uniform(0, 50))
                variables: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat()}
                if name.startswith("detections, 10"):
                    variables = {
                        "c": camera,
                        "from": window.isoformat(),
                        "to": (window + timedelta(minutes=10)).isoformat(),
                    }
                elif name.startswith("tracks"):
                    variables["c"] = camera
                began = time.perf_counter()
                if query == "PAGED":
                    await paged(camera)
                else:
                    await run(query, variables if "$" in query else {})
                if i >= 0:
                    timings.append((time.perf_counter() - began) * 1000)
            print(f"   {name:32s} {summary(timings)}")


# --- main ---------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        nats_server = NatsServer(workdir / "nats")
        nats_server.start()
        stack.callback(nats_server.stop)
        postgres = LocalPostgres()
        postgres.start()
        stack.callback(postgres.cleanup)
        print(f"PostgreSQL 18 (durable settings), NATS JetStream; {os.cpu_count()} cores")
        dsn = postgres.create_database("trinetra")
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()

        if "ingest" in args.parts:
            await bench_ingest(nats_server.url, dsn, args.events)
        if "scale-out" in args.parts:
            await bench_scale_out(nats_server.url, dsn, args.events * 2, workdir)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = spawn_gateway(dsn, nats_server.url, port, workdir / "gateway.log")

        stack.callback(stop, process)
        await wait_ready(url)
        parts: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "fanout": lambda: bench_fanout(
                url, nats_server.url, args.subscribers, args.seconds, distinct=False
            ),
            "fanout-distinct": lambda: bench_fanout(
                url, nats_server.url, args.subscribers, args.seconds, distinct=True
            ),
            "queries": lambda: bench_queries(url, dsn, args.runs),
        }
        for part, run in parts.items():
            if part in args.parts:
                await run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events per ingest case")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="per fan-out rate")
    parser.add_argument("--runs", type=int, default=100, help="per query")
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["ingest", "scale-out", "fanout", "fanout-distinct", "queries"],
        choices=["ingest", "scale-out", "fanout", "fanout-distinct", "queries"],
    )
    asyncio.run(main(parser.parse_args()))
