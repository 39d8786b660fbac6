"""A store's event source for the cluster tests, as its own process (it runs inside the
store's network namespace): the real `EventPublisher` on the store's leaf, publishing
one `detections` event per camera at a steady rate, frame_seq 0, 1, 2, ... per camera.

    python -m tests.cluster.store_publisher --url nats://127.0.0.1:PORT --store S \
        --cameras 3 --rate 10 --report report.jsonl

Every 0.5 s it appends {"t", "queued", "stored", "dropped", "pending"} to the report
(stored: acked by JetStream, here the leaf's). On SIGTERM it stops queueing, flushes,
and appends the final line with "final": true and "frames" per camera.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import DetectionsEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def frame(store: str, camera: str, seq: int) -> DetectionsEvent:
    return DetectionsEvent(
        camera_id=camera,
        store_id=store,
        occurred_at=T0 + timedelta(milliseconds=100 * seq),
        frame_seq=seq,
        frame_width=640,
        frame_height=480,
    )


def _total(publisher: EventPublisher, name: str) -> int:
    total = 0.0
    for metric in publisher.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == f"{name}_total":
                total += sample.value
    return int(total)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    cameras = [f"cam-{i}" for i in range(args.cameras)]
    frames = dict.fromkeys(cameras, 0)
    report = Path(args.report)

    async with (
        NatsConnection(args.url, name="store-publisher", reconnect_time_wait_s=0.1) as conn,
        EventPublisher(conn) as publisher,
    ):

        def line(**extra: object) -> None:
            state = {
                "t": time.time(),
                "queued": sum(frames.values()),
                "stored": _total(publisher, "trinetra_events_published"),
                "dropped": _total(publisher, "trinetra_events_dropped"),
                "pending": publisher.pending,
                **extra,
            }
            with report.open("a") as out:
                out.write(json.dumps(state) + "\n")

        async def progress() -> None:
            while True:
                line()
                await asyncio.sleep(0.5)

        reporter = asyncio.create_task(progress())
        tick = 1.0 / args.rate
        next_at = loop.time()
        while not stop.is_set():
            for camera in cameras:
                publisher.publish(frame(args.store, camera, frames[camera]))
                frames[camera] += 1
            next_at += tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))
        flushed = await publisher.flush(60)
        reporter.cancel()
        line(final=True, flushed=flushed, frames=frames)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--rate", type=float, default=10.0, help="frames per camera per second")
    parser.add_argument("--report", required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
