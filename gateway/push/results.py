"""A `FrameAnalysis` as push mode's detections: persons, then faces, filtered by the
request's parameters; face crops (snapshots) cut from the frame only when asked for."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import numpy.typing as npt

from gateway.push.models import (
    Box,
    Detection,
    ModelType,
    NormalizedBox,
    Parameters,
    Snapshot,
)
from trinetra.inference.detections import FrameAnalysis

__all__ = ["decode_frame", "detections_of"]

_SNAPSHOT_QUALITY = 90

Image = npt.NDArray[np.uint8]  # BGR pixels, height x width x 3


def _box(xyxy: list[float], width: int, height: int) -> Box:
    x1, y1, x2, y2 = xyxy
    return Box(
        x=round(x1, 1),
        y=round(y1, 1),
        width=round(x2 - x1, 1),
        height=round(y2 - y1, 1),
        normalized=NormalizedBox(
            x=round(x1 / width, 5),
            y=round(y1 / height, 5),
            width=round((x2 - x1) / width, 5),
            height=round((y2 - y1) / height, 5),
        ),
    )


def decode_frame(frame: bytes) -> Image | None:
    """The frame's BGR pixels (for snapshots), None when OpenCV cannot read it."""
    image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    return image.astype(np.uint8, copy=False) if isinstance(image, np.ndarray) else None


def _snapshot(image: Image, xyxy: list[float]) -> Snapshot | None:
    h, w = image.shape[:2]
    x1, y1 = max(int(xyxy[0]), 0), max(int(xyxy[1]), 0)
    x2, y2 = min(int(np.ceil(xyxy[2])), w), min(int(np.ceil(xyxy[3])), h)
    if x2 <= x1 or y2 <= y1:
        return None
    ok, jpeg = cv2.imencode(
        ".jpg", image[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, _SNAPSHOT_QUALITY]
    )
    if not ok:
        return None
    data = jpeg.tobytes()
    return Snapshot(
        resolution=f"{x2 - x1}x{y2 - y1}",
        size_bytes=len(data),
        data=base64.b64encode(data).decode(),
    )


def detections_of(
    analysis: FrameAnalysis,
    model_type: ModelType,
    parameters: Parameters,
    *,
    embeddings: bool,
    image: Image | None = None,
) -> list[Detection]:
    """The response's detections; `image` (decoded frame) given: faces carry snapshots."""
    w, h = analysis.width, analysis.height
    minimum = parameters.min_confidence
    out: list[Detection] = []
    if model_type != "face-detection":
        persons = analysis.persons
        for i, (xyxy, score) in enumerate(
            zip(persons.xyxy.tolist(), persons.confidence.tolist(), strict=True)
        ):
            if score >= minimum:
                out.append(
                    Detection(
                        detection_id=f"person-{i}",
                        detection_type="person",
                        bounding_box=_box(xyxy, w, h),
                        confidence=round(float(score), 4),
                    )
                )
    if model_type == "person-detection":
        return out
    faces = analysis.faces
    order = sorted(range(len(faces)), key=lambda i: -float(faces.confidence[i]))
    kept = [i for i in order if float(faces.confidence[i]) >= minimum]
    if parameters.min_face_size is not None:
        size = parameters.min_face_size
        kept = [
            i
            for i in kept
            if min(faces.xyxy[i][2] - faces.xyxy[i][0], faces.xyxy[i][3] - faces.xyxy[i][1]) >= size
        ]
    if parameters.max_faces is not None:
        kept = kept[: parameters.max_faces]
    for i in sorted(kept):
        person = int(faces.person_index[i])
        xyxy = faces.xyxy[i].tolist()
        out.append(
            Detection(
                detection_id=f"face-{i}",
                detection_type="face",
                bounding_box=_box(xyxy, w, h),
                confidence=round(float(faces.confidence[i]), 4),
                person_detection_id=f"person-{person}" if person >= 0 else None,
                landmarks=[[round(x, 1), round(y, 1)] for x, y in faces.landmarks[i].tolist()],
                embedding=faces.embeddings[i].tolist() if embeddings else None,
                snapshot=_snapshot(image, xyxy) if image is not None else None,
            )
        )
    return out
