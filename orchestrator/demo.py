"""The demo: serve the models on the CPU, run the pipeline over the sample video, track
the people and print what is found.

    make demo                     # sets everything up, then runs this
    .venv/bin/python -m orchestrator.demo [--video PATH] [--frames N] [--triton-url HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from orchestrator.detections import FrameAnalysis
from orchestrator.inference import TritonSettings, VisionClient
from orchestrator.inference.local_server import ROOT, LocalTriton
from orchestrator.tracking import ByteTracker, TrackerConfig

SAMPLE_VIDEO = ROOT / ".cache" / "media" / "vtest.avi"
IN_FLIGHT = 4  # frames sent to Triton before the oldest result is awaited


async def video_frames(path: Path, limit: int | None) -> AsyncIterator[NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"error: cannot open {path}")
    try:
        count = 0
        while limit is None or count < limit:
            ok, frame = await asyncio.to_thread(capture.read)
            if not ok:
                return
            count += 1
            yield np.asarray(frame, np.uint8)
    finally:
        capture.release()


async def analysed(
    client: VisionClient, frames: AsyncIterator[NDArray[np.uint8]]
) -> AsyncIterator[FrameAnalysis]:
    """Results in frame order, with up to IN_FLIGHT frames being analysed at once."""
    pending: list[asyncio.Task[FrameAnalysis]] = []
    async for frame in frames:
        pending.append(asyncio.create_task(client.analyze(frame)))
        if len(pending) >= IN_FLIGHT:
            yield await pending.pop(0)
    for task in pending:
        yield await task


async def run(video: Path, limit: int | None, url: str, fps: float) -> None:
    tracker = ByteTracker(TrackerConfig(frame_rate=round(fps)))
    first_seen: dict[int, int] = {}
    lifetimes: dict[int, int] = {}
    faces_total = 0
    started = time.perf_counter()
    async with VisionClient(TritonSettings(url=url, call_timeout_s=60)) as client:
        await client.wait_ready()
        index = 0
        async for result in analysed(client, video_frames(video, limit)):
            update = tracker.update(result.persons)
            for track_id in update.started:
                first_seen[track_id] = index
            for track_id in update.ended:
                lifetimes[track_id] = index - first_seen.get(track_id, index)
            faces_total += len(result.faces)
            if index % 10 == 0:
                ids = update.detections.tracker_id
                tracked = "" if ids is None else ", ".join(str(i) for i in sorted(ids.tolist()))
                print(
                    f"frame {index:4d}  t={index / fps:5.1f}s  people {len(update.detections):2d}"
                    f"  faces {len(result.faces)}  tracks [{tracked}]",
                    flush=True,
                )
            index += 1
    elapsed = time.perf_counter() - started
    print(f"\n{index} frames in {elapsed:.1f} s ({index / elapsed:.1f} frames/s on this machine)")
    print(f"{len(first_seen)} people tracked; {len(lifetimes)} tracks ended; {faces_total} faces")
    if lifetimes:
        seconds = sorted(v / fps for v in lifetimes.values())
        print(
            f"track duration: median {seconds[len(seconds) // 2]:.1f} s, "
            f"longest {seconds[-1]:.1f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    parser.add_argument("--frames", type=int, help="stop after this many frames")
    parser.add_argument("--triton-url", help="use a running Triton instead of starting one")
    args = parser.parse_args()
    capture = cv2.VideoCapture(str(args.video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    capture.release()
    server, url = None, args.triton_url
    if not url:
        print("starting Triton (CPU profile, models from model_repository/) ...", flush=True)
        server = LocalTriton()
        try:
            server.start()
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        url = server.grpc_url
        print(f"Triton ready at {url} (metrics {server.metrics_url})", flush=True)
    try:
        asyncio.run(run(args.video, args.frames, url, fps))
    except KeyboardInterrupt:
        pass
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
