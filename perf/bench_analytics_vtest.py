"""vtest.avi's line crossings, counted by the system against the hand count.

    .venv/bin/python perf/bench_analytics_vtest.py [--triton-url HOST:PORT] [--in-flight 3]

The real pipeline as the store node runs it: every frame of the video (795 frames at the
file's native 10 fps, none skipped) through `vision_pipeline` on Triton (started here on
the CPU profile unless --triton-url is given), the project's ByteTrack at 10 fps, then the
analytics engine with the hand-annotated tripwire of
tests/analytics/data/vtest_line_crossings.json (`in_side` right: walking right to left on
the image is "in"). Prints the system's count per direction against the hand count, and
which hand-counted crossings it matched (within 1.5 s), missed, or added. The tracked
frames go through exactly what the service runs: the DetectionsEvents the node would
publish, into the service's processor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from analytics.processor import PartitionProcessor
from analytics.settings import ServiceEngineSettings
from devservices.paths import CACHE_DIR, REPO_ROOT
from devservices.triton import LocalTriton
from orchestrator.tracking import ByteTracker, TrackerConfig
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.events.schema import DetectionsEvent, LineCrossedEvent
from trinetra.inference import TritonSettings, VisionClient
from trinetra.inference.detections import FrameAnalysis

VIDEO = CACHE_DIR / "media" / "vtest.avi"
HAND_COUNT = REPO_ROOT / "tests" / "analytics" / "data" / "vtest_line_crossings.json"
CAMERA = "vtest"
FPS = 10.0
T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
MATCH_WINDOW_FRAMES = 15
# Hand-count direction -> the engine's, for in_side "right" of the downward segment.
DIRECTIONS = {"right_to_left": "in", "left_to_right": "out"}


@dataclass(frozen=True)
class Comparison:
    hand: dict[str, int]  # engine direction -> hand count
    system: dict[str, int]
    matched: dict[str, int]
    missed: dict[str, list[int]]  # hand-counted frames not matched
    extra: dict[str, list[int]]  # system crossings (frames) matching no hand count
    frames: int
    seconds: float

    def error(self, direction: str) -> float:
        hand = self.hand[direction]
        return abs(self.system[direction] - hand) / hand


def hand_count() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HAND_COUNT.read_text())
    return data


def line_config() -> StoreAnalyticsConfig:
    line = hand_count()["line"]
    return StoreAnalyticsConfig.model_validate(
        {
            "store_id": "vtest",
            "version": 1,
            "lines": [
                {
                    "id": "tripwire",
                    "camera_id": CAMERA,
                    "name": "tripwire",
                    "a": line["a"],
                    "b": line["b"],
                    "in_side": "right",
                }
            ],
        }
    )


async def analyse_video(
    triton_url: str, in_flight: int = 3
) -> tuple[list[FrameAnalysis], tuple[int, int]]:
    """Every frame of the video through Triton, in order, `in_flight` at a time (the
    node's per-camera bound)."""
    capture = cv2.VideoCapture(str(VIDEO))
    results: list[FrameAnalysis] = []
    size = (0, 0)
    async with VisionClient(TritonSettings(url=triton_url, call_timeout_s=120)) as client:
        await client.wait_ready(120)
        pending: deque[asyncio.Task[FrameAnalysis]] = deque()
        while True:
            ok, image = capture.read()
            if not ok:
                break
            size = (image.shape[1], image.shape[0])
            pending.append(asyncio.create_task(client.analyze(np.ascontiguousarray(image))))
            if len(pending) >= in_flight:
                results.append(await pending.popleft())
        while pending:
            results.append(await pending.popleft())
    capture.release()
    return results, size


def track_and_count(
    analyses: Sequence[FrameAnalysis], size: tuple[int, int]
) -> list[LineCrossedEvent]:
    """ByteTrack at the video's rate, then what the store node publishes and the analytics
    service makes of it: the same DetectionsEvents (normalized, rounded) through the
    service's processor, track ends left to its timeout as in the service."""
    tracker = ByteTracker(TrackerConfig(frame_rate=FPS))
    processor = PartitionProcessor("vtest", line_config(), ServiceEngineSettings())
    crossings: list[LineCrossedEvent] = []
    for index, analysis in enumerate(analyses):
        update = tracker.update(analysis.persons)
        tracked = FrameAnalysis(
            analysis.width, analysis.height, update.detections, analysis.faces, {}
        )
        event = DetectionsEvent.from_analysis(
            tracked,
            camera_id=CAMERA,
            store_id="vtest",
            frame_seq=index,
            occurred_at=T0 + timedelta(seconds=index / FPS),
            include_faces=False,
        )
        crossings += [e for e in processor.process(event) if isinstance(e, LineCrossedEvent)]
    # Empty frames after the video, so the last tracks time out and commit their crossings.
    end = T0 + timedelta(seconds=len(analyses) / FPS)
    for k in range(int(FPS * (processor.settings.track_timeout_s + 2))):
        empty = DetectionsEvent(
            camera_id=CAMERA,
            store_id="vtest",
            occurred_at=end + timedelta(seconds=k / FPS),
            frame_seq=len(analyses) + k,
            frame_width=size[0],
            frame_height=size[1],
        )
        crossings += [e for e in processor.process(empty) if isinstance(e, LineCrossedEvent)]
    return crossings


def compare(crossings: Sequence[LineCrossedEvent], frames: int, seconds: float) -> Comparison:
    truth = hand_count()["crossings"]
    hand: dict[str, int] = {}
    system: dict[str, int] = {}
    matched: dict[str, int] = {}
    missed: dict[str, list[int]] = {}
    extra: dict[str, list[int]] = {}
    for name, direction in DIRECTIONS.items():
        expected = list(truth[name]["approx_frames"])
        hand[direction] = int(truth[name]["count"])
        found = sorted(
            round((c.crossed_at - T0).total_seconds() * FPS)
            for c in crossings
            if c.direction == direction
        )
        system[direction] = len(found)
        unmatched = list(found)
        misses = []
        for frame in expected:  # greedy, nearest first: both lists are short
            best = min(unmatched, key=lambda f: abs(f - frame), default=None)
            if best is not None and abs(best - frame) <= MATCH_WINDOW_FRAMES:
                unmatched.remove(best)
            else:
                misses.append(frame)
        matched[direction] = len(expected) - len(misses)
        missed[direction] = misses
        extra[direction] = unmatched
    return Comparison(hand, system, matched, missed, extra, frames, seconds)


async def run(triton_url: str | None, in_flight: int) -> Comparison:
    started = time.monotonic()
    if triton_url is None:
        with LocalTriton() as triton:
            analyses, size = await analyse_video(triton.grpc_url, in_flight)
    else:
        analyses, size = await analyse_video(triton_url, in_flight)
    seconds = time.monotonic() - started
    return compare(track_and_count(analyses, size), len(analyses), seconds)


def report(result: Comparison) -> None:
    print(
        f"vtest.avi: {result.frames} frames through Triton + ByteTrack + analytics in "
        f"{result.seconds:.0f} s ({result.frames / result.seconds:.1f} frames/s, "
        "Triton start included)"
    )
    print(
        "| direction | hand count | system | error | matched | missed (frames) | extra (frames) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, direction in DIRECTIONS.items():
        print(
            f"| {name.replace('_', ' ')} ({direction}) | {result.hand[direction]} | "
            f"{result.system[direction]} | {result.error(direction):.0%} | "
            f"{result.matched[direction]} | {result.missed[direction]} | "
            f"{result.extra[direction]} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triton-url", help="a running Triton (gRPC host:port)")
    parser.add_argument("--in-flight", type=int, default=3, help="frames at Triton at once")
    args = parser.parse_args()
    report(asyncio.run(run(args.triton_url, args.in_flight)))


if __name__ == "__main__":
    main()
