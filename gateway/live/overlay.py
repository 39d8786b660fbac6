"""The latest tracked boxes of each camera, taken from its detections events, and the
drawing of them onto frames."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from trinetra.events.schema import DetectionsEvent

# Boxes older than this are not drawn: better no box than one from a stalled pipeline.
MAX_AGE_S = 2.0
BOX_COLOR = (0, 220, 0)  # BGR
LABEL_COLOR = (255, 255, 255)


@dataclass(frozen=True)
class _Latest:
    event: DetectionsEvent
    received: float


class TrackOverlay:
    """Fed with every detections event; answers which boxes to draw for a camera now."""

    def __init__(self, max_age_s: float = MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._latest: dict[str, _Latest] = {}

    def update(self, event: DetectionsEvent) -> None:
        current = self._latest.get(event.camera_id)
        if current is None or event.frame_seq >= current.event.frame_seq:
            self._latest[event.camera_id] = _Latest(event, time.monotonic())

    def latest(self, camera_id: str) -> DetectionsEvent | None:
        entry = self._latest.get(camera_id)
        if entry is None or time.monotonic() - entry.received > self.max_age_s:
            return None
        return entry.event

    def draw(self, camera_id: str, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A copy of `image` (BGR) with the camera's current tracked boxes and ids."""
        out = image.copy()
        event = self.latest(camera_id)
        if event is None:
            return out
        height, width = out.shape[:2]
        for person in event.persons:
            if person.track_id is None:
                continue
            box = person.box
            p1 = (round(box.x1 * width), round(box.y1 * height))
            p2 = (round(box.x2 * width), round(box.y2 * height))
            cv2.rectangle(out, p1, p2, BOX_COLOR, 2)
            label = f"#{person.track_id}"
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
            top = max(p1[1] - th - 6, 0)
            cv2.rectangle(out, (p1[0], top), (p1[0] + tw + 6, top + th + 6), BOX_COLOR, -1)
            cv2.putText(
                out,
                label,
                (p1[0] + 3, top + th + 2),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                LABEL_COLOR,
                1,
                cv2.LINE_AA,
            )
        return out
