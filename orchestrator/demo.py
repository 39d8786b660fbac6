"""The demo: the whole store node on one machine with embedded services.

Starts Triton (CPU profile) and NATS JetStream locally, runs a store node with one camera
playing the sample video in real time, and prints the track events as they arrive from
JetStream, then a summary.

    make demo                     # sets everything up, then runs this
    .venv/bin/python -m orchestrator.demo [--video PATH] [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import nats
from nats.aio.msg import Msg

from orchestrator.config.camera import CameraConfig
from orchestrator.config.node import NodeSettings
from orchestrator.events.local_nats import NatsServer
from orchestrator.events.schema import (
    CameraStatusEvent,
    DetectionsEvent,
    TrackEndedEvent,
    TrackStartedEvent,
    decode,
)
from orchestrator.inference import TritonSettings
from orchestrator.inference.local_server import ROOT, LocalTriton
from orchestrator.logs import configure_logging
from orchestrator.node import StoreNode

SAMPLE_VIDEO = ROOT / ".cache" / "media" / "vtest.avi"
STORE = "demo-store"


def say(text: str) -> None:
    print(text, flush=True)


async def run(video: Path, seconds: float, triton_url: str, nats_url: str) -> None:
    counts: Counter[str] = Counter()
    durations: list[float] = []
    people_per_frame: list[int] = []

    async def on_event(msg: Msg) -> None:
        event = decode(msg.data)
        counts[event.kind] += 1
        if isinstance(event, DetectionsEvent):
            people_per_frame.append(len(event.persons))
        elif isinstance(event, TrackStartedEvent):
            say(
                f"  {event.occurred_at:%H:%M:%S}  person #{event.track_id} entered "
                f"({event.camera_id}, score {event.score:.2f})"
            )
        elif isinstance(event, TrackEndedEvent):
            durations.append(event.duration_s)
            say(
                f"  {event.occurred_at:%H:%M:%S}  person #{event.track_id} left after "
                f"{event.duration_s:.1f} s, walked {event.path_length:.2f} frame widths "
                f"({event.end_reason})"
            )
        elif isinstance(event, CameraStatusEvent):
            say(f"  camera {event.camera_id}: {event.state}")

    client = await nats.connect(nats_url)
    await client.subscribe(f"trinetra.{STORE}.>", cb=on_event)
    settings = NodeSettings(
        store_id=STORE,
        nats_url=nats_url,
        triton=TritonSettings(url=triton_url, call_timeout_s=60),
        health_port=0,
        log_json=False,
    )
    camera = CameraConfig(
        id="entrance-1",
        name="Sample entrance (vtest.avi)",
        role="entrance",
        source=str(video),
        target_fps=10,
        loop=True,
    )
    started = time.monotonic()
    async with StoreNode(settings, [camera]) as node:
        say(
            f"store node running; health and metrics at http://127.0.0.1:{node.health.port}"
            "/health and /metrics\n"
        )
        await asyncio.sleep(seconds)
        analysed = node.cameras["entrance-1"].frames_analysed
    await asyncio.sleep(0.5)
    await client.close()
    elapsed = time.monotonic() - started
    say(f"\n{analysed} frames analysed in {elapsed:.0f} s ({analysed / elapsed:.1f} frames/s)")
    say(f"events on JetStream: {dict(counts)}")
    if people_per_frame:
        say(
            f"people per frame: mean {sum(people_per_frame) / len(people_per_frame):.1f}, "
            f"max {max(people_per_frame)}"
        )
    if durations:
        median = sorted(durations)[len(durations) // 2]
        say(f"{len(durations)} visits ended; median stay {median:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    parser.add_argument("--seconds", type=float, default=40.0, help="how long to run")
    args = parser.parse_args()
    configure_logging("WARNING", as_json=False)
    say("starting Triton (CPU profile, model_repository/ + ensembles/repository/) ...")
    with tempfile.TemporaryDirectory(prefix="trinetra-nats-") as store, LocalTriton() as triton:
        say(f"Triton ready at {triton.grpc_url}; starting NATS JetStream ...")
        nats_server = NatsServer(Path(store))
        nats_server.start()
        say(f"NATS ready at {nats_server.url}\n")
        try:
            asyncio.run(run(args.video, args.seconds, triton.grpc_url, nats_server.url))
        except KeyboardInterrupt:
            pass
        finally:
            nats_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
