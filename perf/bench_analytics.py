"""Analytics service benchmark: engine cost per camera-frame, and one analytics process
keeping up with many cameras through a real NATS JetStream.

    .venv/bin/python perf/bench_analytics.py [--tracks 20] [--cameras 64] [--fps 10]
                                             [--seconds 20] [--skip-engine] [--skip-nats]

1. Engine cost: one camera with a store-like layout (6 zones, one of them a queue with
   its checkout, 2 counting lines) and `--tracks` people walking about at 10 fps, run
   through `StoreAnalytics.process` (the engine alone), `PartitionProcessor.process`
   (engine + track uids + conversion to schema events) and decode + process (what the
   service does per message). Mean / p50 / p99 per frame, best of 3. Target: the engine
   <= 0.1 ms per camera-frame at 20 tracks.
2. Throughput: a real nats-server, `python -m analytics` as its own process, and this
   process publishing `--cameras` x `--fps` detections events per second (each with
   `--tracks` people, frame time = wall time of publishing) through the store node's
   EventPublisher for `--seconds`. Sampled every second from the service's /metrics:
   frames processed per second, lag (wall clock minus the frame time of the newest
   frame processed), the service's CPU share, checkpoint size. "Keeps up" means the
   processed rate matches the offered rate and the lag stays bounded (does not grow).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats

if __package__ in (None, ""):  # run as a script: make `analytics` and `trinetra` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.engine.engine import StoreAnalytics
from analytics.processor import PartitionProcessor
from analytics.settings import ServiceEngineSettings
from analytics.wire import tracked_frame
from devservices.nats import NatsServer
from devservices.ports import free_port
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.publisher import MSG_ID_HEADER
from trinetra.events.schema import (
    BoundingBox,
    DetectedPerson,
    DetectionsEvent,
    decode,
    encode,
    make_track_uid,
    subject_for,
)

ROOT = Path(__file__).resolve().parent.parent
STORE = "bench-store"
WIDTH, HEIGHT = 1280, 720
T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)


# --- synthetic cameras ----------------------------------------------------------------


def camera_layout(camera_id: str) -> list[dict[str, Any]]:
    """Six zones on a 3 x 2 grid of the floor (the middle bottom one a queue, served by
    the right bottom checkout)."""
    zones = []
    kinds = ["area", "area", "display", "area", "queue", "checkout"]
    for index, kind in enumerate(kinds):
        col, row = index % 3, index // 3
        x0, y0 = 0.05 + col * 0.31, 0.3 + row * 0.33
        zone: dict[str, Any] = {
            "id": f"{camera_id}-z{index}",
            "camera_id": camera_id,
            "name": f"zone {index}",
            "kind": kind,
            "polygon": [[x0, y0], [x0 + 0.28, y0], [x0 + 0.28, y0 + 0.3], [x0, y0 + 0.3]],
        }
        if kind == "queue":
            zone["checkout_zone_ids"] = [f"{camera_id}-z5"]
        zones.append(zone)
    return zones


def store_config(
    cameras: list[str], zones_per_camera: int = 6, lines: bool = True
) -> StoreAnalyticsConfig:
    zones = [z for c in cameras for z in camera_layout(c)[:zones_per_camera]]
    line_defs = [
        {
            "id": f"{c}-door",
            "camera_id": c,
            "name": "door",
            "a": [0.5, 0.05],
            "b": [0.5, 0.95],
            "in_side": "left",
        }
        for c in cameras
    ]
    if len(cameras) == 1:
        line_defs.append(
            {
                "id": f"{cameras[0]}-aisle",
                "camera_id": cameras[0],
                "name": "aisle",
                "a": [0.05, 0.62],
                "b": [0.95, 0.62],
                "in_side": "right",
            }
        )
    return StoreAnalyticsConfig.model_validate(
        {
            "store_id": STORE,
            "version": 1,
            "zones": zones,
            "lines": line_defs if lines else [],
        }
    )


@dataclass
class Walker:
    track_id: int
    x: float
    y: float
    vx: float
    vy: float
    uid: Any = None
    pause: int = 0


class SyntheticCamera:
    """`tracks` people wandering the floor: straight walks with pauses, bouncing off the
    frame edges; each leaves after a while and someone new (a new track id) comes in."""

    def __init__(self, camera_id: str, tracks: int, seed: int, fps: float) -> None:
        self.camera_id = camera_id
        self.fps = fps
        self._rng = random.Random(seed)
        self._next_id = 1
        self._walkers = [self._spawn() for _ in range(tracks)]
        self.frame_seq = 0

    def _spawn(self) -> Walker:
        rng = self._rng
        speed = rng.uniform(0.03, 0.12)  # frame widths per second
        angle = rng.uniform(0, 2 * math.pi)
        walker = Walker(
            self._next_id,
            rng.uniform(0.05, 0.95),
            rng.uniform(0.25, 0.95),
            speed * math.cos(angle),
            speed * math.sin(angle),
        )
        self._next_id += 1
        return walker

    def frame(self, at: datetime) -> DetectionsEvent:
        rng, dt = self._rng, 1.0 / self.fps
        persons = []
        for index, w in enumerate(self._walkers):
            if rng.random() < 0.002:  # leaves; someone else comes in
                w = self._walkers[index] = self._spawn()
            if w.pause > 0:
                w.pause -= 1
            else:
                w.x += w.vx * dt + rng.gauss(0, 0.002)
                w.y += w.vy * dt + rng.gauss(0, 0.002)
                if not 0.03 < w.x < 0.97:
                    w.vx = -w.vx
                    w.x = min(max(w.x, 0.03), 0.97)
                if not 0.25 < w.y < 0.97:
                    w.vy = -w.vy
                    w.y = min(max(w.y, 0.25), 0.97)
                if rng.random() < 0.01:
                    w.pause = rng.randint(10, 60)
            if w.uid is None:
                w.uid = make_track_uid(STORE, self.camera_id, w.track_id, at)
            h = 0.12 + 0.1 * w.y  # nearer (lower) people are taller
            persons.append(
                DetectedPerson(
                    box=BoundingBox(
                        x1=max(0.0, w.x - h / 6),
                        y1=max(0.0, w.y - h),
                        x2=min(1.0, w.x + h / 6),
                        y2=min(1.0, w.y),
                    ),
                    score=0.9,
                    track_id=w.track_id,
                    track_uid=w.uid,
                )
            )
        event = DetectionsEvent(
            camera_id=self.camera_id,
            store_id=STORE,
            occurred_at=at,
            frame_seq=self.frame_seq,
            frame_width=WIDTH,
            frame_height=HEIGHT,
            persons=tuple(persons),
        )
        self.frame_seq += 1
        return event


# --- 1. engine cost -------------------------------------------------------------------


def _stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.fmean(samples) * 1e3, statistics.median(samples) * 1e3, p99 * 1e3


def bench_engine(tracks: int, frames: int, repeats: int = 3) -> None:
    camera = "cam-0"
    config = store_config([camera])
    source = SyntheticCamera(camera, tracks, seed=1, fps=10)
    events = [source.frame(T0 + timedelta(seconds=k / 10)) for k in range(frames)]
    tracked = [tracked_frame(e) for e in events]
    payloads = [encode(e) for e in events]
    settings = ServiceEngineSettings()

    def engine_only() -> list[float]:
        engine = StoreAnalytics(config, settings)
        times = []
        for frame in tracked:
            start = time.perf_counter()
            engine.process(frame)
            times.append(time.perf_counter() - start)
        return times

    def processor() -> list[float]:
        proc = PartitionProcessor(STORE, config, settings)
        times = []
        for event in events:
            start = time.perf_counter()
            proc.process(event)
            times.append(time.perf_counter() - start)
        return times

    def decode_and_process() -> list[float]:
        proc = PartitionProcessor(STORE, config, settings)
        times = []
        for payload in payloads:
            start = time.perf_counter()
            event = decode(payload)
            assert isinstance(event, DetectionsEvent)
            proc.process(event)
            times.append(time.perf_counter() - start)
        return times

    print(
        f"\n1. per camera-frame cost, {tracks} tracks, {frames} frames at 10 fps, "
        f"{len(config.zones)} zones + {len(config.lines)} lines, best of {repeats}"
    )
    print("| path | mean ms | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for name, run in (
        ("engine (StoreAnalytics.process)", engine_only),
        ("processor (engine + uids + schema events)", processor),
        ("decode + processor (per message)", decode_and_process),
    ):
        best = min((run() for _ in range(repeats)), key=statistics.fmean)
        mean, p50, p99 = _stats(best)
        print(f"| {name} | {mean:.4f} | {p50:.4f} | {p99:.4f} |")


# --- 2. throughput through NATS -------------------------------------------------------


def _metrics(port: int) -> dict[str, float]:
    """name{labels} -> value of the service's /metrics (the samples this bench reads)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def _processed(sample: dict[str, float]) -> float:
    return sample.get('trinetra_analytics_messages_total{outcome="processed"}', 0.0)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _recording(
    cameras: list[SyntheticCamera], fps: float, seconds: float, start: datetime
) -> list[list[tuple[str, bytes, str]]]:
    """Per tick, every camera's (subject, payload, msg id), frame time = the tick's
    planned publish time: generated and encoded up front, so the publishing side costs
    next to nothing while the service is measured."""
    ticks = []
    for tick in range(int(seconds * fps)):
        at = start + timedelta(seconds=tick / fps)
        frames = [camera.frame(at) for camera in cameras]
        ticks.append([(subject_for(f), encode(f), str(f.event_id)) for f in frames])
    return ticks


async def _publish(
    ticks: list[list[tuple[str, bytes, str]]], fps: float, url: str, start: datetime
) -> tuple[int, float]:
    """Publish each tick at its planned time (core publishes into the stream's subjects,
    one connection, so in order); returns (frames sent, seconds late at the last tick)."""
    client = await nats.connect(url)
    sent, late = 0, 0.0
    try:
        for index, tick in enumerate(ticks):
            due = (start + timedelta(seconds=index / fps)).timestamp()
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(late, time.time() - due)
            for subject, payload, msg_id in tick:
                await client.publish(subject, payload, headers={MSG_ID_HEADER: msg_id})
                sent += 1
        await client.flush(30)
    finally:
        await client.close()
    return sent, late


async def bench_throughput(n_cameras: int, fps: float, tracks: int, seconds: float) -> None:
    camera_ids = [f"cam-{i:02d}" for i in range(n_cameras)]
    # The configuration's limits: 256 zones and 64 lines per store.
    zones_per_camera = max(1, min(6, 256 // n_cameras))
    config = store_config(camera_ids, zones_per_camera=zones_per_camera, lines=n_cameras <= 64)
    cameras = [SyntheticCamera(c, tracks, seed=i, fps=fps) for i, c in enumerate(camera_ids)]
    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    config_file = work / "analytics.json"
    config_file.write_text(config.model_dump_json())
    port = free_port()
    print(
        f"\n2. one analytics process, {n_cameras} cameras x {fps:g} fps x {tracks} tracks "
        f"for {seconds:g} s ({len(config.zones)} zones, {len(config.lines)} lines), "
        "through a real nats-server"
    )
    with NatsServer(log_path=work / "nats.log") as nats:
        env = {
            **os.environ,
            "TRINETRA_STORE_ID": STORE,
            "TRINETRA_NATS_URL": nats.url,
            "TRINETRA_HEALTH_PORT": str(port),
            "TRINETRA_LOG_LEVEL": "WARNING",
        }
        service = _start_service(config_file, env, work / "analytics.log")
        try:
            await _wait_ready(port)
            # Generating the recording takes a while: time one tick, plan the start after
            # all of them are ready.
            probe = time.monotonic()
            [camera.frame(T0) for camera in cameras]
            per_tick = time.monotonic() - probe
            start = datetime.now(UTC) + timedelta(seconds=2 + 1.5 * per_tick * seconds * fps)
            ticks = _recording(cameras, fps, seconds, start)
            publishing = asyncio.create_task(_publish(ticks, fps, nats.url, start))
            samples: list[tuple[float, float, float, float]] = []  # t, processed, lag, cpu
            started = time.monotonic()
            while not publishing.done():
                await asyncio.sleep(1.0)
                sample = await asyncio.to_thread(_metrics, port)
                samples.append(
                    (
                        time.monotonic() - started,
                        _processed(sample),
                        sample.get("trinetra_analytics_lag_seconds", math.nan),
                        _cpu_seconds(service.pid),
                    )
                )
            sent, late = await publishing
            caught_up = time.monotonic()
            while _processed(await asyncio.to_thread(_metrics, port)) < sent:
                if time.monotonic() - caught_up > 120:
                    break
                await asyncio.sleep(0.1)
            drain_s = time.monotonic() - caught_up
            final = await asyncio.to_thread(_metrics, port)
        finally:
            service.terminate()
            service.wait(30)
    print(f"(publisher: at most {late:.3f} s behind its schedule)")
    _report(samples, sent, n_cameras * fps, drain_s, final, seconds)


def _start_service(
    config_file: Path, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "analytics", "--config", str(config_file)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _is_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return bool(json.loads(response.read()).get("ready"))
    except OSError:
        return False


async def _wait_ready(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(_is_ready, port):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the analytics service did not become ready")


def _report(
    samples: list[tuple[float, float, float, float]],
    sent: int,
    offered: float,
    drain_s: float,
    final: dict[str, float],
    seconds: float,
) -> None:
    # From the first second with frames processed (the publisher starts on a schedule),
    # skipping that second itself (warm-up).
    active = [sample for sample in samples if sample[1] > 0][1:]
    if len(active) >= 2:
        (t0, n0, _, c0), (t1, n1, _, c1) = active[0], active[-1]
        rate = (n1 - n0) / (t1 - t0)
        cpu = (c1 - c0) / (t1 - t0)
    else:
        rate = cpu = math.nan
    lags = [lag for *_, lag, _ in active if not math.isnan(lag)] or [math.nan]
    print("| figure | value |")
    print("|---|---|")
    print(f"| offered | {offered:.0f} frames/s ({sent} frames in {seconds:g} s) |")
    print(f"| processed, steady state | {rate:.0f} frames/s |")
    lag_median, lag_max = statistics.median(lags), max(lags)
    print(f"| lag (wall - frame time), median / max | {lag_median:.3f} / {lag_max:.3f} s |")
    print(f"| lag per second sampled | {', '.join(f'{lag:.2f}' for lag in lags)} |")
    print(f"| analytics process CPU | {cpu * 100:.0f}% of one core |")
    print(f"| drain after the last publish | {drain_s:.2f} s |")
    print(f"| processed in all | {_processed(final):.0f} of {sent} |")
    events = sum(
        v for k, v in final.items() if k.startswith("trinetra_analytics_events_emitted_total")
    )
    print(f"| analytics events emitted | {events:.0f} |")
    checkpoint_kib = final.get("trinetra_analytics_checkpoint_bytes", 0) / 1024
    checkpoint_s = final.get("trinetra_analytics_checkpoint_seconds", 0.0)
    print(f"| last checkpoint | {checkpoint_kib:.0f} KiB compressed, {checkpoint_s:.3f} s |")
    frame_sum = final.get("trinetra_analytics_frame_seconds_sum", 0.0)
    frame_n = final.get("trinetra_analytics_frame_seconds_count", 0.0)
    if frame_n:
        print(f"| engine + conversion per frame, mean | {frame_sum / frame_n * 1e3:.3f} ms |")


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{platform.node()}: {os.cpu_count()} cores ({model}), load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--frames", type=int, default=3000, help="engine frames")
    parser.add_argument("--cameras", type=int, default=64)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-nats", action="store_true")
    args = parser.parse_args()
    print(f"machine: {_machine()}")
    if not args.skip_engine:
        bench_engine(args.tracks, args.frames)
    if not args.skip_nats:
        asyncio.run(bench_throughput(args.cameras, args.fps, args.tracks, args.seconds))
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
