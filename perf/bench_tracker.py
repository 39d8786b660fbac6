"""ByteTrack benchmark: our tracker against supervision's on the same synthetic scenes.

Reports per-frame latency (mean and p99 of `update` alone, detections prepared
beforehand) and tracking quality (MOTA, IDF1 at IoU 0.5) at several crowd sizes, so a
speed-up is never bought with identity switches. Run from the repository root:

    .venv/bin/python perf/bench_tracker.py [--frames 900] [--seed 0] [--sizes 5 20 100]

Each tracker runs the scene --repeats times (interleaved with the other tracker) and the
repeat with the lowest mean is reported, so a neighbour process on a shared machine does
not decide the comparison; quality is identical across repeats (everything is seeded).

The reference is `sv.ByteTrack`, which supervision deprecated in 0.28 and removed in
0.31.0: the comparison needs supervision 0.30.x (0.30.9 is the last release with it);
with a newer supervision only our rows are printed.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make `perf` and `orchestrator` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.tracking import ByteTracker, TrackerConfig
from perf.mot_metrics import MotAccumulator, MotResult
from perf.synthetic_scenes import Frame, random_scene

# (tracker ids, boxes) for one frame
Step = Callable[[int], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]
Factory = Callable[[Sequence[Frame], TrackerConfig], Step]


@dataclass(frozen=True)
class Run:
    tracker: str
    objects: int
    frame_ms: np.ndarray[Any, np.dtype[np.float64]]
    quality: MotResult


def _ours(frames: Sequence[Frame], config: TrackerConfig) -> Step:
    tracker = ByteTracker(config)

    def step(i: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        out = tracker.update(frames[i].detections).detections
        assert out.tracker_id is not None
        return out.tracker_id, out.xyxy

    return step


def _supervision_factory() -> tuple[str, Factory] | None:
    """sv.ByteTrack configured like ours, or None where this supervision lacks it."""
    try:
        import supervision as sv
    except ImportError:
        return None
    byte_track = getattr(sv, "ByteTrack", None)
    if byte_track is None:
        return None

    def make(frames: Sequence[Frame], config: TrackerConfig) -> Step:
        # sv starts tracks at track_activation_threshold + 0.1 and uses 0.1 as the low
        # threshold, so 0.5 reproduces our defaults (0.5 / 0.6 / 0.1).
        with warnings.catch_warnings():  # its deprecation notice, known and not news here
            warnings.simplefilter("ignore", FutureWarning)
            tracker = byte_track(
                track_activation_threshold=config.track_high_thresh,
                lost_track_buffer=config.track_buffer,
                minimum_matching_threshold=config.match_thresh,
                frame_rate=config.frame_rate,
            )
        inputs = [
            sv.Detections(
                xyxy=f.detections.xyxy,
                confidence=f.detections.confidence,
                class_id=np.zeros(len(f.detections), dtype=np.int64),
            )
            for f in frames
        ]

        def step(i: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            out = tracker.update_with_detections(inputs[i])
            return np.asarray(out.tracker_id, dtype=np.int64), out.xyxy

        return step

    return f"supervision {sv.__version__}", make


def _measure(name: str, objects: int, frames: Sequence[Frame], step: Step) -> Run:
    accumulator = MotAccumulator()
    frame_ms = np.empty(len(frames), dtype=np.float64)
    for i, frame in enumerate(frames):
        start = time.perf_counter_ns()
        ids, boxes = step(i)
        frame_ms[i] = (time.perf_counter_ns() - start) / 1e6
        accumulator.update(frame.gt_ids, frame.gt_boxes, ids, boxes)
    return Run(name, objects, frame_ms, accumulator.result())


def _warm_up(make: Factory, frames: Sequence[Frame]) -> None:
    """First calls pay for imports and numpy/scipy dispatch caches; keep them out."""
    step = make(frames[:30], TrackerConfig())
    for i in range(min(30, len(frames))):
        step(i)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=900, help="frames per scene")
    parser.add_argument("--seed", type=int, default=0, help="scene seed")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 100])
    parser.add_argument("--repeats", type=int, default=3, help="runs per tracker, best kept")
    args = parser.parse_args(argv)

    config = TrackerConfig()
    trackers: list[tuple[str, Factory]] = [("trinetra", _ours)]
    baseline = _supervision_factory()
    if baseline is None:
        print("sv.ByteTrack unavailable (removed in supervision 0.31; needs 0.30.x): ours only.")
    else:
        trackers.append(baseline)

    runs: list[Run] = []
    for objects in args.sizes:
        frames = random_scene(objects, args.frames, seed=args.seed)
        best: dict[str, Run] = {}
        for _name, make in trackers:
            _warm_up(make, frames)
        for _ in range(args.repeats):
            for name, make in trackers:
                run = _measure(name, objects, frames, make(frames, config))
                if name not in best or run.frame_ms.mean() < best[name].frame_ms.mean():
                    best[name] = run
        runs.extend(best.values())

    _print_table(runs, args.frames, args.seed, args.repeats)


def _print_table(runs: Sequence[Run], n_frames: int, seed: int, repeats: int) -> None:
    print(
        f"ByteTrack, {n_frames} frames per scene at 1920x1080, seed {seed}, best of {repeats} runs"
    )
    header = (
        f"{'objects':>7} | {'tracker':<19} | {'mean ms':>8} | {'p99 ms':>8} | "
        f"{'MOTA':>6} | {'IDF1':>6} | {'ID sw':>5} | {'FP':>5} | {'FN':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        q = r.quality
        print(
            f"{r.objects:>7} | {r.tracker:<19} | {r.frame_ms.mean():>8.3f} | "
            f"{np.percentile(r.frame_ms, 99):>8.3f} | {q.mota:>6.3f} | {q.idf1:>6.3f} | "
            f"{q.id_switches:>5} | {q.false_positives:>5} | {q.misses:>6}"
        )
    ours = {r.objects: r for r in runs if r.tracker == "trinetra"}
    for r in runs:
        if r.tracker != "trinetra":
            mine = ours[r.objects]
            speedup = r.frame_ms.mean() / mine.frame_ms.mean()
            p99 = np.percentile(r.frame_ms, 99) / np.percentile(mine.frame_ms, 99)
            print(
                f"{r.objects:>4} objects: trinetra is {speedup:.1f}x faster on mean, "
                f"{p99:.1f}x on p99; IDF1 {mine.quality.idf1 - r.quality.idf1:+.3f}"
            )


if __name__ == "__main__":
    main()
