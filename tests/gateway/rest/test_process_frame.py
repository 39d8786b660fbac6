"""POST /api/v1/detections/process-frame through the real Triton `vision_pipeline`."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import cv2
import numpy as np
import pytest

from gateway.config import LimitSettings
from tests.gateway.helpers import RunningGateway
from tests.gateway.push.helpers import URL, auth, push_gateway, push_settings
from tests.support.media import media_bytes
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton

pytestmark = pytest.mark.timeout(300)

LIMIT = 300_000  # bus.jpg and t1.jpg fit, biden.jpg (354 KB) does not


@pytest.fixture
async def vision_gateway(
    database_url: str, nats_server: NatsServer, triton_server: LocalTriton
) -> AsyncIterator[RunningGateway]:
    config = push_settings(
        database_url,
        nats_server.url,
        triton_server.grpc_url,
        limits=LimitSettings(max_upload_bytes=LIMIT),
    )
    async with push_gateway(config) as running:
        yield running


async def test_process_frame(vision_gateway: RunningGateway) -> None:
    http = vision_gateway.http
    bus = media_bytes("bus.jpg")

    # multipart upload, operator: persons and faces, never embeddings
    response = await http.post(
        URL,
        files={"frame": ("bus.jpg", bus, "image/jpeg")},
        data={"camera_id": "entrance-1", "frame_id": "f-1", "return_embeddings": "false"},
        headers=auth("operator"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["frame"] == {"width": 810, "height": 1080}
    assert body["processing_info"]["frame_id"] == "f-1"
    persons = [d for d in body["detections"] if d["detection_type"] == "person"]
    assert len(persons) >= 4
    assert all(p["confidence"] > 0.25 for p in persons)
    box = persons[0]["bounding_box"]
    assert 0 < box["width"] <= 810 and 0 <= box["normalized"]["x"] <= 1
    assert all(d.get("embedding") is None for d in body["detections"])
    assert body["summary"]["persons"] == len(persons)
    # Which model versions and which Triton endpoint produced it (the fallback's answer).
    info = body["model_info"]
    assert info["endpoint"] in [e.url for e in vision_gateway.gateway.settings.triton.pool]
    assert {"vision_pipeline", "person_detector"} <= set(info["model_versions"])

    # JSON (the design's encoding), privacy officer asking for embeddings: six faces
    t1 = base64.b64encode(media_bytes("t1.jpg")).decode()
    request = {
        "camera_id": "desk-1",
        "stream_type": "RTSP",
        "frame_data": t1,
        "detection_options": {
            "model_type": "face-recognition",
            "parameters": {"return_embeddings": True, "min_confidence": 0.5},
        },
    }
    officer = await http.post(URL, json=request, headers=auth("privacy_officer"))
    assert officer.status_code == 200, officer.text
    faces = [d for d in officer.json()["detections"] if d["detection_type"] == "face"]
    assert len(faces) == 6
    for face in faces:
        embedding = np.asarray(face["embedding"], np.float32)
        assert embedding.shape == (512,)
        assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-3
        assert len(face["landmarks"]) == 5

    # embeddings are refused to other scopes, not silently dropped
    operator = await http.post(URL, json=request, headers=auth("operator"))
    assert operator.status_code == 403
    assert operator.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "return_embeddings requires scope privacy_officer",
    }


async def test_process_frame_refusals(vision_gateway: RunningGateway) -> None:
    http = vision_gateway.http
    frame = {"frame": ("bus.jpg", media_bytes("bus.jpg"), "image/jpeg")}
    fields = {"camera_id": "entrance-1"}

    missing = await http.post(URL, files=frame, data=fields)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "UNAUTHENTICATED"
    viewer = await http.post(URL, files=frame, data=fields, headers=auth("viewer"))
    assert viewer.status_code == 403
    assert viewer.json()["error"]["message"] == "requires scope operator or privacy_officer"

    big = {"frame": ("biden.jpg", media_bytes("biden.jpg"), "image/jpeg")}
    too_large = await http.post(URL, files=big, data=fields, headers=auth("operator"))
    assert too_large.status_code == 413
    assert too_large.json()["error"] == {
        "code": "PAYLOAD_TOO_LARGE",
        "message": f"request body larger than {LIMIT} bytes",
    }

    corrupt = {"frame": ("x.jpg", b"\xff\xd8 definitely not a jpeg", "image/jpeg")}
    refused = await http.post(URL, files=corrupt, data=fields, headers=auth("operator"))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "INVALID_FRAME"

    no_camera = await http.post(URL, files=frame, headers=auth("operator"))
    assert no_camera.status_code == 400
    assert "camera_id" in no_camera.json()["error"]["message"]
    bad_base64 = await http.post(
        URL, json={"camera_id": "c", "frame_data": "%%%"}, headers=auth("operator")
    )
    assert bad_base64.status_code == 400
    assert bad_base64.json()["error"]["message"] == "frame_data is not valid base64"


async def test_snapshots_and_face_filters(vision_gateway: RunningGateway) -> None:
    http = vision_gateway.http
    t1 = media_bytes("t1.jpg")

    async def faces(**parameters: Any) -> list[dict[str, Any]]:
        response = await http.post(
            URL,
            json={
                "camera_id": "desk-1",
                "frame_data": base64.b64encode(t1).decode(),
                "detection_options": {"model_type": "face-detection", "parameters": parameters},
            },
            headers=auth("operator"),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert all(d["detection_type"] == "face" for d in body["detections"])
        found: list[dict[str, Any]] = body["detections"]
        return found

    every = await faces(min_confidence=0.5, return_snapshots=True)
    assert len(every) == 6
    for face in every:
        snapshot = face["snapshot"]
        crop = cv2.imdecode(np.frombuffer(base64.b64decode(snapshot["data"]), np.uint8), 1)
        assert crop is not None and snapshot["format"] == "jpeg"
        assert snapshot["resolution"] == f"{crop.shape[1]}x{crop.shape[0]}"
        box = face["bounding_box"]
        assert abs(crop.shape[1] - box["width"]) <= 2 and abs(crop.shape[0] - box["height"]) <= 2
    assert all(face["snapshot"] is None for face in await faces(min_confidence=0.5))

    sides = sorted(min(f["bounding_box"]["width"], f["bounding_box"]["height"]) for f in every)
    threshold = (sides[2] + sides[3]) / 2  # between the third and fourth smallest face
    large = await faces(min_confidence=0.5, min_face_size=round(threshold))
    assert len(large) == 3
    assert all(
        min(f["bounding_box"]["width"], f["bounding_box"]["height"]) >= round(threshold)
        for f in large
    )
    best = await faces(min_confidence=0.5, max_faces=2)
    top = sorted(every, key=lambda f: -f["confidence"])[:2]
    assert {f["detection_id"] for f in best} == {f["detection_id"] for f in top}
