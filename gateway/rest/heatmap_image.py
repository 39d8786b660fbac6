"""A heatmap rendered over a camera snapshot, as PNG.

The grid's person-seconds are scaled to the hottest cell (so any range shows its own
contrast), resized to the frame with bilinear interpolation (cells are centres of
colour, not blocks), coloured with OpenCV's JET colormap and blended over the frame with
an opacity that grows with the value (at most MAX_ALPHA), so cold floor stays visible as
it is. Without a snapshot the heat is drawn on a neutral grey frame of the camera's size.
CPU work: call it off the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

MAX_ALPHA: Final = 0.65
NEUTRAL_GREY: Final = 96


def decode_snapshot(jpeg: bytes) -> NDArray[np.uint8] | None:
    """A BGR frame from JPEG bytes, or None if they are not an image."""
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, dtype=np.uint8)


def render(
    person_seconds: Sequence[float],
    cols: int,
    rows: int,
    background: NDArray[np.uint8] | None,
    size: tuple[int, int],
) -> bytes:
    """PNG of the heat over `background` (BGR), or over grey of `size` (width, height)."""
    if background is None:
        width, height = size
        frame = np.full((height, width, 3), NEUTRAL_GREY, dtype=np.uint8)
    else:
        frame = background
        height, width = frame.shape[:2]
    heat = np.asarray(person_seconds, dtype=np.float32).reshape(rows, cols)
    peak = float(heat.max()) if heat.size else 0.0
    if peak > 0:
        scaled = cv2.resize(heat / peak, (width, height), interpolation=cv2.INTER_LINEAR)
        scaled = np.clip(scaled, 0.0, 1.0)
        colours = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
        alpha = (scaled * MAX_ALPHA)[..., None]
        blended = frame.astype(np.float32) * (1 - alpha) + colours.astype(np.float32) * alpha
        frame = np.clip(blended, 0, 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", frame)
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise RuntimeError("PNG encoding failed")
    return bytes(png.tobytes())
