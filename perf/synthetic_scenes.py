"""Synthetic camera scenes with ground truth, for tracker tests and benchmarks.

Real annotated retail video is scarce and cannot be shipped, so scenes are generated:
people walk with constant velocity (some stand still, as shoppers do), cross each other,
are fully occluded for a while, and the "detector" adds box noise, misses, low-confidence
boxes and false positives. Everything is deterministic given a seed, so a failing test or
a benchmark figure can be reproduced exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trinetra.inference.detections import Detections, FloatArray, IntArray

FrameRange = tuple[int, int]  # [first, stop) frame numbers


@dataclass(frozen=True)
class Person:
    """A ground-truth walker present on frames [start, end); `x`, `y` is the box centre on
    frame `start`, velocities are pixels per frame."""

    gt_id: int
    start: int
    end: int
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    width: float = 60.0
    height: float = 150.0
    hidden: tuple[FrameRange, ...] = ()  # fully occluded: neither ground truth nor detected
    low_score: tuple[FrameRange, ...] = ()  # detected with a low-confidence score only

    def present(self, frame: int) -> bool:
        return self.start <= frame < self.end and not _within(frame, self.hidden)

    def box(self, frame: int) -> tuple[float, float, float, float]:
        t = frame - self.start
        cx, cy = self.x + self.vx * t, self.y + self.vy * t
        return (
            cx - self.width / 2,
            cy - self.height / 2,
            cx + self.width / 2,
            cy + self.height / 2,
        )


@dataclass(frozen=True)
class DetectorNoise:
    """How far the simulated detector is from the truth."""

    box_sigma: float = 0.0  # std of each box coordinate, as a fraction of the box height
    miss_rate: float = 0.0  # chance a present person is not detected on a frame
    low_score_rate: float = 0.0  # chance a present person is detected with a low score
    false_positives: float = 0.0  # mean false positives per frame (Poisson)
    confident_false_positive_rate: float = 0.0  # share of those scoring high
    high_score: tuple[float, float] = (0.6, 0.95)
    low_score: tuple[float, float] = (0.15, 0.45)


@dataclass(frozen=True)
class Frame:
    """One frame: what the detector reported and what was really there."""

    detections: Detections
    det_gt_ids: IntArray  # ground-truth id behind each detection, -1 for a false positive
    gt_boxes: FloatArray
    gt_ids: IntArray


def _within(frame: int, ranges: Sequence[FrameRange]) -> bool:
    return any(a <= frame < b for a, b in ranges)


def render(
    people: Sequence[Person],
    n_frames: int,
    noise: DetectorNoise | None = None,
    seed: int = 0,
    size: tuple[int, int] = (1920, 1080),
) -> list[Frame]:
    """Detections and ground truth for each of `n_frames` frames; detections are shuffled
    so their order tells the tracker nothing."""
    noise = noise if noise is not None else DetectorNoise()
    rng = np.random.default_rng(seed)
    width, height = size
    frames = []
    for f in range(n_frames):
        present = [p for p in people if p.present(f)]
        gt_ids = np.array([p.gt_id for p in present], dtype=np.int64)
        gt_boxes = np.array([p.box(f) for p in present], dtype=np.float64).reshape(-1, 4)
        heights = np.array([p.height for p in present], dtype=np.float64)

        detected = rng.random(len(present)) >= noise.miss_rate
        low = rng.random(len(present)) < noise.low_score_rate
        low |= np.array([_within(f, p.low_score) for p in present], dtype=np.bool_)
        jitter = rng.normal(0.0, 1.0, (len(present), 4)) * (noise.box_sigma * heights)[:, None]
        scores = np.where(
            low,
            rng.uniform(*noise.low_score, len(present)),
            rng.uniform(*noise.high_score, len(present)),
        )
        boxes = (gt_boxes + jitter)[detected]
        scores = scores[detected]
        ids = gt_ids[detected]

        n_fp = rng.poisson(noise.false_positives) if noise.false_positives > 0 else 0
        if n_fp:
            fp_h = rng.uniform(60, 200, n_fp)
            fp_cx = rng.uniform(0, width, n_fp)
            fp_cy = rng.uniform(0, height, n_fp)
            fp_boxes = np.stack(
                [fp_cx - 0.2 * fp_h, fp_cy - fp_h / 2, fp_cx + 0.2 * fp_h, fp_cy + fp_h / 2], 1
            )
            confident = rng.random(n_fp) < noise.confident_false_positive_rate
            fp_scores = np.where(
                confident, rng.uniform(0.5, 0.7, n_fp), rng.uniform(*noise.low_score, n_fp)
            )
            boxes = np.concatenate([boxes, fp_boxes])
            scores = np.concatenate([scores, fp_scores])
            ids = np.concatenate([ids, np.full(n_fp, -1, dtype=np.int64)])

        order = rng.permutation(len(boxes))
        frames.append(
            Frame(
                detections=Detections(boxes[order], scores[order]),
                det_gt_ids=ids[order],
                gt_boxes=gt_boxes.astype(np.float32),
                gt_ids=gt_ids,
            )
        )
    return frames


def random_people(
    n_objects: int,
    n_frames: int,
    seed: int = 0,
    size: tuple[int, int] = (1920, 1080),
    occlusion_rate: float = 0.3,
) -> list[Person]:
    """About `n_objects` people in view at any time: each leaves when it walks out of the
    frame or after a random dwell, and someone else enters from an edge soon after.

    Box sizes shrink with the crowd so a hundred people still fit a 1080p frame.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    base_h = float(np.clip(np.sqrt(0.3 * width * height / (n_objects * 0.4)), 60, 200))
    people: list[Person] = []
    for _slot in range(n_objects):
        frame = 0
        while frame < n_frames:
            h = base_h * rng.uniform(0.75, 1.25)
            w = 0.4 * h
            standing = rng.random() < 0.2
            speed = rng.uniform(0.0, 0.3) if standing else rng.uniform(1.0, 5.0)
            angle = rng.uniform(0, 2 * np.pi)
            vx, vy = speed * np.cos(angle), speed * np.sin(angle)
            if frame == 0:
                x, y = rng.uniform(w, width - w), rng.uniform(h, height - h)
            else:  # enter at the edge the velocity points away from
                x = -w / 2 if vx > 0 else width + w / 2
                y = rng.uniform(h, height - h)
                if abs(vy) > abs(vx):
                    x, y = rng.uniform(w, width - w), (-h / 2 if vy > 0 else height + h / 2)
            stay = _frames_in_view(x, y, vx, vy, width, height, w, h)
            end = min(n_frames, frame + min(stay, int(rng.integers(60, 600))))
            hidden: tuple[FrameRange, ...] = ()
            if rng.random() < occlusion_rate and end - frame > 40:
                a = int(rng.integers(frame + 5, end - 30))
                hidden = ((a, a + int(rng.integers(5, 26))),)
            people.append(Person(len(people) + 1, frame, end, x, y, vx, vy, w, h, hidden=hidden))
            frame = end + int(rng.integers(0, 10))
    return people


def _frames_in_view(
    x: float, y: float, vx: float, vy: float, width: int, height: int, w: float, h: float
) -> int:
    """Frames until the box has walked fully out of the frame."""
    limits = []
    for pos, vel, lo, hi in ((x, vx, -w / 2, width + w / 2), (y, vy, -h / 2, height + h / 2)):
        if vel > 1e-9:
            limits.append((hi - pos) / vel)
        elif vel < -1e-9:
            limits.append((lo - pos) / vel)
    return max(1, int(min(limits, default=1e9)))


def random_scene(
    n_objects: int,
    n_frames: int,
    seed: int = 0,
    noise: DetectorNoise | None = None,
) -> list[Frame]:
    """A crowd scene with the benchmark's default detector noise."""
    if noise is None:
        noise = DetectorNoise(
            box_sigma=0.02,
            miss_rate=0.05,
            low_score_rate=0.1,
            false_positives=0.5 + 0.02 * n_objects,
            confident_false_positive_rate=0.1,
        )
    return render(random_people(n_objects, n_frames, seed), n_frames, noise, seed)
