"""Drawing one frame's tracked people (box and track id) onto a copy of that frame."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from trinetra.inference.detections import Detections

BOX_COLOR = (0, 220, 0)  # BGR
LABEL_COLOR = (255, 255, 255)
BOX_THICKNESS = 2
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.5


def draw_tracks(image: NDArray[np.uint8], tracks: Detections) -> NDArray[np.uint8]:
    """A copy of `image` (BGR) with each tracked box (pixels, as the tracker gives them)
    and a `#id` label above it; rows without a track id are not drawn."""
    out = image.copy()
    if tracks.tracker_id is None:
        return out
    for box, track_id in zip(tracks.xyxy, tracks.tracker_id, strict=True):
        p1 = (round(float(box[0])), round(float(box[1])))
        p2 = (round(float(box[2])), round(float(box[3])))
        cv2.rectangle(out, p1, p2, BOX_COLOR, BOX_THICKNESS)
        label = f"#{int(track_id)}"
        (text_w, text_h), _ = cv2.getTextSize(label, _FONT, _FONT_SCALE, 1)
        top = max(p1[1] - text_h - 6, 0)
        cv2.rectangle(out, (p1[0], top), (p1[0] + text_w + 6, top + text_h + 6), BOX_COLOR, -1)
        cv2.putText(
            out,
            label,
            (p1[0] + 3, top + text_h + 2),
            _FONT,
            _FONT_SCALE,
            LABEL_COLOR,
            1,
            cv2.LINE_AA,
        )
    return out
