"""Orchestrator benchmarks on the CPU profile:

1. Overhead per frame outside inference (target < 2 ms): validation, motion score,
   sampling, tracking, event building and publishing to a real JetStream, timed on real
   pipeline results (vtest.avi through Triton once, then replayed).
2. Frame-to-JetStream latency p50/p99 with 4 cameras at 5 fps: a real store node (file
   cameras playing vtest.avi in real time, Triton CPU, NATS), latency = when the
   detections event is received from JetStream minus the frame's timestamp.

    .venv/bin/python perf/bench_orchestrator.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import nats
import numpy as np
from nats.aio.msg import Msg
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from devservices.nats import NatsServer
from devservices.paths import REPO_ROOT
from devservices.triton import LocalTriton
from orchestrator.cameras.frame import Frame
from orchestrator.config.node import NodeSettings
from orchestrator.frames.motion import MotionScorer
from orchestrator.frames.validation import FrameValidator
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from trinetra.config.camera import CameraConfig
from trinetra.events.schema import decode
from trinetra.inference import TritonSettings, VisionClient
from trinetra.inference.detections import FrameAnalysis

VIDEO = REPO_ROOT / ".cache" / "media" / "vtest.avi"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def read_frames(count: int) -> list[NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(VIDEO))
    frames: list[NDArray[np.uint8]] = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.asarray(frame, np.uint8))
    capture.release()
    return frames


def settings(triton_url: str, nats_url: str) -> NodeSettings:
    return NodeSettings(
        store_id="bench",
        nats_url=nats_url,
        triton=TritonSettings(url=triton_url, call_timeout_s=60),
        health_port=0,
    )


def camera(camera_id: str, fps: float) -> CameraConfig:
    return CameraConfig(
        id=camera_id, name=camera_id, role="tracking", source=str(VIDEO), target_fps=fps, loop=True
    )


async def overhead(triton_url: str, nats_url: str, frames: int) -> list[float]:
    images = read_frames(frames)
    async with VisionClient(TritonSettings(url=triton_url, call_timeout_s=60)) as client:
        results: list[FrameAnalysis] = [await client.analyze(image) for image in images]
    metrics = OrchestratorMetrics(CollectorRegistry())
    node = StoreNode(settings(triton_url, nats_url), [camera("cam-1", 10)], metrics=metrics)
    await node.connection.start()
    await node.connection.wait_connected(5)
    await node.publisher.start()
    state = node.cameras["cam-1"]
    validator, motion = FrameValidator("cam-1", metrics=metrics), MotionScorer()
    costs = []
    for seq, (image, result) in enumerate(zip(images, results, strict=True)):
        started = time.perf_counter()
        validator.validate(image)
        score = motion.score(image)
        frame = Frame("cam-1", seq, image, time.time(), time.monotonic(), None, score)
        node.sampler.decide("cam-1", state.config.tier, 0.0, frame.motion)
        node._on_result(state, frame, result)
        costs.append(time.perf_counter() - started)
        await asyncio.sleep(0)  # let the publisher send, as the event loop would
    await node.publisher.flush(10)
    await node.publisher.close()
    await node.connection.close()
    return costs


async def latency(
    triton_url: str, nats_url: str, seconds: float
) -> tuple[list[float], dict[str, int]]:
    latencies: list[float] = []
    per_camera: dict[str, int] = {}
    nc = await nats.connect(nats_url)

    async def on_message(msg: Msg) -> None:
        event = decode(msg.data)
        latencies.append(datetime.now(UTC).timestamp() - event.occurred_at.timestamp())
        per_camera[event.camera_id] = per_camera.get(event.camera_id, 0) + 1

    await nc.subscribe("trinetra.bench.*.detections", cb=on_message)
    cams = [camera(f"cam-{i}", 5.0) for i in range(1, 5)]
    metrics = OrchestratorMetrics(CollectorRegistry())
    async with StoreNode(settings(triton_url, nats_url), cams, metrics=metrics):
        await asyncio.sleep(5)  # warm-up: connections, first frames
        latencies.clear()
        per_camera.clear()
        await asyncio.sleep(seconds)
    await nc.close()
    return latencies, per_camera


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as store, LocalTriton() as triton:
        nats_server = NatsServer(Path(store))
        nats_server.start()
        try:
            costs = await overhead(triton.grpc_url, nats_server.url, args.frames)
            lat, per_camera = await latency(triton.grpc_url, nats_server.url, args.seconds)
        finally:
            nats_server.stop()
    ms = [c * 1000 for c in costs]
    print(f"\n1. per-frame overhead outside inference ({len(ms)} vtest frames, 768x576):")
    print(
        f"   mean {statistics.fmean(ms):.3f} ms   p50 {percentile(ms, 0.5):.3f} ms   "
        f"p99 {percentile(ms, 0.99):.3f} ms   (target < 2 ms: "
        f"{'met' if percentile(ms, 0.5) < 2 else 'NOT met'})"
    )
    print(f"\n2. frame-to-JetStream latency, 4 cameras x 5 fps, {args.seconds:.0f} s, CPU Triton:")
    if lat:
        print(
            f"   p50 {percentile(lat, 0.5) * 1000:.0f} ms   "
            f"p99 {percentile(lat, 0.99) * 1000:.0f} ms   events {len(lat)}"
        )
    rates = {cam: round(n / args.seconds, 2) for cam, n in sorted(per_camera.items())}
    print(f"   analysed frames/s per camera: {rates} (the sampler thins under load)")


if __name__ == "__main__":
    asyncio.run(main())
