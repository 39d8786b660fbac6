"""vision_pipeline through a real Triton server on real images and weights."""

import asyncio
import itertools

import numpy as np
import pytest

from ensembles.ops.image import decode_image
from tests.support.media import media_bytes, video_frame
from trinetra.inference import VisionClient

# Ultralytics' default confidence for reporting detections; the pipeline itself returns
# boxes down to 0.1 for the tracker.
REPORT_SCORE = 0.25
OBAMA = [
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
]


async def test_people_in_a_vtest_frame(vision: VisionClient) -> None:
    frame = video_frame("vtest.avi", 0)
    result = await vision.analyze(frame)
    assert (result.width, result.height) == (768, 576)
    assert (result.persons.confidence >= REPORT_SCORE).sum() >= 3
    boxes = result.persons.xyxy
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 768 and boxes[:, 3].max() <= 576


async def test_four_people_in_bus_jpg(vision: VisionClient) -> None:
    result = await vision.analyze(media_bytes("bus.jpg"))
    assert (result.width, result.height) == (810, 1080)
    assert (result.persons.confidence >= REPORT_SCORE).sum() == 4


async def test_raw_and_encoded_frames_agree(vision: VisionClient) -> None:
    encoded = media_bytes("bus.jpg")
    raw = decode_image(encoded)
    from_bytes, from_pixels = await asyncio.gather(vision.analyze(encoded), vision.analyze(raw))
    np.testing.assert_allclose(from_bytes.persons.xyxy, from_pixels.persons.xyxy, atol=1e-3)


async def test_six_faces_in_t1_with_unit_embeddings(vision: VisionClient) -> None:
    result = await vision.analyze(media_bytes("t1.jpg"))
    faces = result.faces
    assert len(faces) == 6
    assert faces.embeddings.shape == (6, 512)
    np.testing.assert_allclose(np.linalg.norm(faces.embeddings, axis=1), 1.0, atol=1e-4)
    # each face sits inside a distinct person box
    assert (faces.person_index >= 0).all()
    assert len(set(faces.person_index.tolist())) == 6
    for face, person in zip(faces.xyxy, result.persons.xyxy[faces.person_index], strict=True):
        assert face[0] >= person[0] - 1 and face[2] <= person[2] + 1
    # landmarks lie inside their face box
    inside = (faces.landmarks[..., 0] >= faces.xyxy[:, None, 0] - 2) & (
        faces.landmarks[..., 0] <= faces.xyxy[:, None, 2] + 2
    )
    assert inside.all()
    # six different people: no pair looks alike
    similarity = faces.embeddings @ faces.embeddings.T
    assert similarity[~np.eye(6, dtype=bool)].max() < 0.35


async def test_same_person_scores_high_and_different_people_low(vision: VisionClient) -> None:
    results = await asyncio.gather(*(vision.analyze(media_bytes(n)) for n in [*OBAMA, "biden.jpg"]))
    for name, result in zip([*OBAMA, "biden.jpg"], results, strict=True):
        assert len(result.faces) == 1, name
    embeddings = [r.faces.embeddings[0] for r in results]
    obama, biden = embeddings[:-1], embeddings[-1]
    for a, b in itertools.combinations(obama, 2):
        assert float(a @ b) > 0.5
    for a in obama:
        assert float(a @ biden) < 0.35


@pytest.mark.parametrize("name", ["players.jpg"])
async def test_crowded_frame_batches_all_faces(vision: VisionClient, name: str) -> None:
    """More faces than one embedder batch still each get an embedding."""
    result = await vision.analyze(media_bytes(name))
    assert len(result.faces) >= 20
    assert result.faces.embeddings.shape == (len(result.faces), 512)
    np.testing.assert_allclose(np.linalg.norm(result.faces.embeddings, axis=1), 1.0, atol=1e-4)
