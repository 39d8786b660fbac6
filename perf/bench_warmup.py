"""What Triton's model warm-up buys: the CPU server started with the model configs as
committed (each inner model runs `model_warmup` before it is READY) and with the same
configs stripped of `model_warmup`, one after the other, the pipeline's models only.

    .venv/bin/python perf/bench_warmup.py [--rounds 1] [--steady 20]

Printed, per variant: server start to ready (the launcher's READY, which waits for
every model), the first request after ready (one bus.jpg through vision_pipeline), the
slowest frame of the first burst of 8 concurrent frames (the micro-batcher's largest),
then the steady state: the median of `--steady` single requests and of 3 bursts. The
load average is printed at the start and the end: on a shared machine the figures are a
floor. Needs `make media` (bus.jpg).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format  # type: ignore[import-untyped]  # no stubs installed
from tritonclient.grpc import model_config_pb2

if __package__ in (None, ""):  # run as a script: make `perf` and the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.paths import ENSEMBLE_REPOSITORY, MEDIA_DIR, MODEL_REPOSITORY
from devservices.triton import LocalTriton
from trinetra.inference import TritonSettings, VisionClient

PIPELINE_MODELS = ("person_detector", "face_detector", "face_embedder", "vision_pipeline")
BURST = 8
STEADY_BURSTS = 3


def without_warmup(source: Path, target: Path) -> Path:
    """A copy of the model repository `source` at `target` whose configs (config.pbtxt
    and every configs/*.pbtxt) have no `model_warmup`; everything else is linked."""
    for model in sorted(p for p in source.iterdir() if (p / "config.pbtxt").exists()):
        copy = target / model.name
        copy.mkdir(parents=True)
        for entry in model.iterdir():
            if entry.name == "configs":
                (copy / "configs").mkdir()
                for config in entry.glob("*.pbtxt"):
                    _write_stripped(config, copy / "configs" / config.name)
            elif entry.name == "config.pbtxt":
                _write_stripped(entry, copy / entry.name)
            elif entry.name != "__pycache__":
                (copy / entry.name).symlink_to(entry.resolve())
    return target


def _write_stripped(source: Path, target: Path) -> None:
    config = text_format.Parse(source.read_text(), model_config_pb2.ModelConfig())
    config.ClearField("model_warmup")
    target.write_text(text_format.MessageToString(config))


@dataclass(frozen=True)
class Figures:
    start_to_ready_s: float
    first_request_ms: float
    first_burst_max_ms: float
    steady_request_ms: float
    steady_burst_max_ms: float


async def _timed(client: VisionClient, frame: bytes) -> float:
    started = time.perf_counter()
    await client.analyze(frame)
    return (time.perf_counter() - started) * 1000


async def _burst(client: VisionClient, frame: bytes) -> float:
    return max(await asyncio.gather(*(_timed(client, frame) for _ in range(BURST))))


async def measure(server: LocalTriton, frame: bytes, steady: int) -> tuple[float, ...]:
    settings = TritonSettings(url=server.grpc_url, call_timeout_s=60)
    async with VisionClient(settings) as client:
        first = await _timed(client, frame)
        first_burst = await _burst(client, frame)
        singles = [await _timed(client, frame) for _ in range(steady)]
        bursts = [await _burst(client, frame) for _ in range(STEADY_BURSTS)]
    return first, first_burst, statistics.median(singles), statistics.median(bursts)


def run(variant: str, repositories: tuple[Path, Path], frame: bytes, steady: int) -> Figures:
    models, ensembles = repositories
    server = LocalTriton(
        extra_args=[
            "--model-repository",
            str(models),
            "--ensemble-repository",
            str(ensembles),
            *(arg for model in PIPELINE_MODELS for arg in ("--model", model)),
        ]
    )
    started = time.perf_counter()
    with server:  # starts it: returns once the launcher printed READY
        ready_s = time.perf_counter() - started
        figures = asyncio.run(measure(server, frame, steady))
    print(f"  {variant}: ready after {ready_s:.1f} s", flush=True)
    return Figures(ready_s, *figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="each variant this many times")
    parser.add_argument("--steady", type=int, default=20, help="single requests for the median")
    args = parser.parse_args()
    frame = (MEDIA_DIR / "bus.jpg").read_bytes()
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} cores", flush=True)
    results: dict[str, list[Figures]] = {"no warm-up": [], "warm-up": []}
    with tempfile.TemporaryDirectory(prefix="bench-warmup-") as scratch:
        cold = (
            without_warmup(MODEL_REPOSITORY, Path(scratch) / "models"),
            without_warmup(ENSEMBLE_REPOSITORY, Path(scratch) / "ensembles"),
        )
        variants = {"no warm-up": cold, "warm-up": (MODEL_REPOSITORY, ENSEMBLE_REPOSITORY)}
        for _ in range(args.rounds):
            for variant, repositories in variants.items():
                results[variant].append(run(variant, repositories, frame, args.steady))
    print(f"load average at end: {os.getloadavg()}")
    header = (
        "| variant | start to ready s | first request ms | first burst of 8, slowest ms "
        "| steady request ms (median) | steady burst of 8, slowest ms (median) |"
    )
    print(header)
    print("|---|---|---|---|---|---|")
    for variant, runs in results.items():
        for figures in runs:
            print(
                f"| {variant} | {figures.start_to_ready_s:.1f} | {figures.first_request_ms:.0f} "
                f"| {figures.first_burst_max_ms:.0f} | {figures.steady_request_ms:.0f} "
                f"| {figures.steady_burst_max_ms:.0f} |"
            )


if __name__ == "__main__":
    main()
