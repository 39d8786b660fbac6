"""vision_pipeline through Triton at concurrency 1, 4 and 8 against the same ONNX models
run in-process with onnxruntime, on the same frames. Prints frames/s, p50/p99 latency and
the Triton/in-process throughput ratio (target: at concurrency 8, at least 0.8x).

    .venv/bin/python perf/bench_vision_pipeline.py [--frames 40] [--url HOST:PORT]

Without --url it starts the CPU Triton server itself (triton/cpu_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from devservices.paths import REPO_ROOT
from devservices.triton import LocalTriton
from ensembles.ops.image import decode_image
from ensembles.ops.pipeline import PipelineSettings, decode, prepare
from trinetra.inference import TritonSettings, VisionClient

MEDIA = REPO_ROOT / ".cache" / "media"
MODELS = REPO_ROOT / "model_repository"


def sample_frames(count: int) -> list[bytes]:
    """JPEG frames: vtest.avi every 10th frame, plus the face-heavy photos."""
    capture = cv2.VideoCapture(str(MEDIA / "vtest.avi"))
    frames: list[bytes] = []
    index = 0
    while len(frames) < count - 2:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 10 == 0:
            frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
        index += 1
    capture.release()
    return [*frames, (MEDIA / "t1.jpg").read_bytes(), (MEDIA / "bus.jpg").read_bytes()]


@dataclass
class Result:
    name: str
    frames: int
    seconds: float
    latencies: list[float]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    def row(self, baseline: float | None) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        ratio = f"{self.fps / baseline:5.2f}x" if baseline else "     -"
        return f"{self.name:<26} {self.fps:8.2f} {p50:9.1f} {p99:9.1f}   {ratio}"


class InProcessPipeline:
    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3

        def session(name: str) -> ort.InferenceSession:
            path = str(MODELS / name / "1" / "model.onnx")
            return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        self.person, self.face, self.embedder = (
            session(n) for n in ("person_detector", "face_detector", "face_embedder")
        )
        self.face_outputs = [o.name for o in self.face.get_outputs()]
        self.settings = PipelineSettings()

    def __call__(self, jpeg: bytes) -> int:
        batch = prepare([decode_image(jpeg)], self.settings)
        head = self.person.run(None, {"images": batch.person_input})[0]
        faces = dict(
            zip(self.face_outputs, self.face.run(None, {"input.1": batch.face_input}), strict=True)
        )
        found = decode(batch, head, faces, self.settings)
        embeddings = (
            self.embedder.run(None, {"input.1": found.crops})[0]
            if len(found.crops)
            else np.zeros((0, 512), np.float32)
        )
        return len(found.results(embeddings)[0].person_boxes)


def run_in_process(frames: list[bytes]) -> Result:
    pipeline = InProcessPipeline()
    pipeline(frames[0])  # warm-up
    latencies = []
    start = time.perf_counter()
    for frame in frames:
        t = time.perf_counter()
        pipeline(frame)
        latencies.append(time.perf_counter() - t)
    return Result("in-process onnxruntime", len(frames), time.perf_counter() - start, latencies)


async def run_triton(url: str, frames: list[bytes], concurrency: int) -> Result:
    async with VisionClient(TritonSettings(url=url, call_timeout_s=120)) as client:
        await client.wait_ready()
        await asyncio.gather(*(client.analyze(frames[0]) for _ in range(concurrency)))  # warm-up
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for frame in frames:
            queue.put_nowait(frame)
        latencies: list[float] = []

        async def worker() -> None:
            while not queue.empty():
                frame = queue.get_nowait()
                t = time.perf_counter()
                await client.analyze(frame)
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return Result(f"triton concurrency {concurrency}", len(frames), seconds, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--url", help="an already running Triton (gRPC host:port)")
    args = parser.parse_args()
    frames = sample_frames(args.frames)
    server = None if args.url else LocalTriton()
    if server:
        print("starting Triton (CPU profile)...", flush=True)
        server.start()
    url = args.url or (server.grpc_url if server else "")
    try:
        baseline = run_in_process(frames)
        results = [await run_triton(url, frames, c) for c in (1, 4, 8)]
    finally:
        if server:
            server.stop()
    print(f"\n{len(frames)} frames (vtest.avi 768x576 + t1.jpg + bus.jpg), JPEG in\n")
    print(f"{'path':<26} {'frames/s':>8} {'p50 ms':>9} {'p99 ms':>9}   vs in-process")
    print(baseline.row(None))
    for result in results:
        print(result.row(baseline.fps))
    target = results[-1].fps / baseline.fps
    print(
        f"\ntarget: concurrency 8 >= 0.80x in-process -> {target:.2f}x "
        f"({'met' if target >= 0.8 else 'NOT met'})"
    )


if __name__ == "__main__":
    asyncio.run(main())
