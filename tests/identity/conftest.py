"""Real face embeddings from the real Triton pipeline, computed once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from identity.quality import FaceMeasures
from tests.support.media import media_bytes
from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings, VisionClient
from trinetra.inference.detections import Faces

IMAGES = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
    "biden.jpg",
    "t1.jpg",
    "players.jpg",
)


@dataclass(frozen=True)
class FaceSet:
    embeddings: dict[str, NDArray[np.float32]]  # image -> (faces, 512), pipeline order
    boxes: dict[str, NDArray[np.float32]]
    t1_crops: tuple[bytes, ...]  # JPEG crop around each t1 face, in memory only
    t1_crop_embeddings: NDArray[np.float32]  # (6, 512), embedded from the crops
    far_partial: NDArray[np.float32]  # obama_partial_face.jpg at 1/5 size: a face far away
    # What the detector measured of each face (same order), for the quality gate.
    measures: dict[str, tuple[FaceMeasures, ...]]
    far_partial_measures: FaceMeasures

    def one(self, image: str) -> NDArray[np.float32]:
        faces = self.embeddings[image]
        assert len(faces) == 1, f"{image} has {len(faces)} faces"
        face: NDArray[np.float32] = faces[0]
        return face


def measured(faces: Faces) -> tuple[FaceMeasures, ...]:
    """The pipeline's measurements of each face, as the store node sends them."""
    return tuple(
        FaceMeasures.of(box, float(score), points)
        for box, score, points in zip(faces.xyxy, faces.confidence, faces.landmarks, strict=True)
    )


@pytest.fixture(scope="session")
async def vision_client(triton_server: LocalTriton) -> AsyncIterator[VisionClient]:
    async with VisionClient(
        TritonSettings(url=triton_server.grpc_url, call_timeout_s=60)
    ) as client:
        await client.wait_ready()
        yield client


def _crop(image: NDArray[np.uint8], box: NDArray[np.float32], margin: float = 0.5) -> bytes:
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    top, bottom = max(0, int(y1 - margin * h)), min(image.shape[0], int(y2 + margin * h))
    left, right = max(0, int(x1 - margin * w)), min(image.shape[1], int(x2 + margin * w))
    ok, jpeg = cv2.imencode(".jpg", image[top:bottom, left:right])
    assert ok
    return jpeg.tobytes()


@pytest.fixture(scope="session")
async def faces(vision_client: VisionClient) -> FaceSet:
    embeddings: dict[str, NDArray[np.float32]] = {}
    boxes: dict[str, NDArray[np.float32]] = {}
    measures: dict[str, tuple[FaceMeasures, ...]] = {}
    for name in IMAGES:
        analysis = await vision_client.analyze(media_bytes(name))
        embeddings[name] = analysis.faces.embeddings
        boxes[name] = analysis.faces.xyxy
        measures[name] = measured(analysis.faces)
    t1 = np.asarray(
        cv2.imdecode(np.frombuffer(media_bytes("t1.jpg"), np.uint8), cv2.IMREAD_COLOR), np.uint8
    )
    crops = tuple(_crop(t1, box) for box in boxes["t1.jpg"])
    crop_embeddings = []
    for crop in crops:
        analysis = await vision_client.analyze(crop)
        assert len(analysis.faces) == 1, "each t1 crop must hold exactly one face"
        crop_embeddings.append(analysis.faces.embeddings[0])
    partial = cv2.imdecode(
        np.frombuffer(media_bytes("obama_partial_face.jpg"), np.uint8), cv2.IMREAD_COLOR
    )
    far = await vision_client.analyze(
        np.ascontiguousarray(cv2.resize(partial, None, fx=0.2, fy=0.2))
    )
    assert len(far.faces) == 1
    return FaceSet(
        embeddings,
        boxes,
        crops,
        np.stack(crop_embeddings),
        far.faces.embeddings[0],
        measures,
        measured(far.faces)[0],
    )
