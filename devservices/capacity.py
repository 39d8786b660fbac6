"""The demo camera's rate, from what the inference tier it runs on can analyse.

A camera offered more frames than the tier analyses only queues them (issue: the demo sat
at 8 fps above the CPU profile's ~7 frames/s, and every frame waited a second). So the
demo measures the tier first: `measure_frames_per_s` sends frames of the sample video
through `vision_pipeline` as the store node would (several in flight at once) and times
them, and `camera_fps` takes half of that: at half load a frame rarely waits behind
another (the latency budget's 50 % point), with room for the identity service's own
face crops on the same Triton.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from trinetra.inference import VisionClient

# The share of the measured capacity one demo camera may take.
LOAD_SHARE: Final = 0.5
MAX_DEMO_FPS: Final = 8.0  # the sample video's own rate is 10 fps; more shows nothing new
MIN_DEMO_FPS: Final = 1.0


def camera_fps(frames_per_s: float, share: float = LOAD_SHARE) -> float:
    """The demo camera's target rate for a tier that analyses `frames_per_s`: `share` of
    it, in whole frames per second, between MIN_DEMO_FPS and MAX_DEMO_FPS."""
    if not math.isfinite(frames_per_s) or frames_per_s <= 0:
        return MIN_DEMO_FPS
    return min(MAX_DEMO_FPS, max(MIN_DEMO_FPS, float(math.floor(frames_per_s * share))))


def sample_frames(video: Path, count: int) -> list[npt.NDArray[np.uint8]]:
    """`count` frames spread over the video (BGR), so the people in them vary."""
    capture = cv2.VideoCapture(str(video))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or count
        frames: list[npt.NDArray[np.uint8]] = []
        for index in np.linspace(0, max(total - 1, 0), count).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, image = capture.read()
            if ok:
                frames.append(np.ascontiguousarray(image, dtype=np.uint8))
    finally:
        capture.release()
    if not frames:
        raise RuntimeError(f"no frame could be read from {video}")
    return frames


async def measure_frames_per_s(
    client: VisionClient,
    frames: list[npt.NDArray[np.uint8]],
    *,
    in_flight: int = 4,
    warmup: int = 2,
) -> float:
    """Frames per second `vision_pipeline` analyses with `in_flight` requests at a time
    (after `warmup` requests that are not timed)."""
    for image in frames[:warmup]:
        await client.analyze(image)
    timed = frames[warmup:] or frames
    queue = list(timed)
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            await client.analyze(queue.pop())

    await asyncio.gather(*(worker() for _ in range(max(1, in_flight))))
    return len(timed) / (time.perf_counter() - started)
