"""POST /api/v1/detections/process-frame through the real Triton `vision_pipeline`."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import numpy as np
import pytest

from gateway.config import LimitSettings
from tests.gateway.helpers import RunningGateway, running_gateway, settings, token, wait_schema
from tests.support.media import media_bytes
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings

pytestmark = pytest.mark.timeout(300)

URL = "/api/v1/detections/process-frame"
LIMIT = 300_000  # bus.jpg and t1.jpg fit, biden.jpg (354 KB) does not


@pytest.fixture
async def vision_gateway(
    database_url: str, nats_server: NatsServer, triton_server: LocalTriton
) -> AsyncIterator[RunningGateway]:
    config = settings(
        database_url,
        nats_server.url,
        triton=TritonSettings(url=triton_server.grpc_url, call_timeout_s=60),
        limits=LimitSettings(max_upload_bytes=LIMIT),
    )
    async with running_gateway(config) as running:
        await wait_schema(running.gateway)
        assert running.gateway.vision is not None
        await running.gateway.vision.wait_ready(timeout_s=120)
        yield running


def auth(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes)}"}


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
