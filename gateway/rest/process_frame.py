"""POST /api/v1/detections/process-frame: one uploaded frame through `vision_pipeline`.

As in the detection-provider design, in either encoding:

- multipart/form-data: a `frame` file (JPEG/PNG) and the fields `camera_id`, and
  optionally `frame_id`, `timestamp`, `model_type`, `min_confidence`, `max_faces`,
  `return_embeddings`;
- application/json: `camera_id`, `frame_data` (base64), optional `frame_id`,
  `timestamp`, and `detection_options.{model_type, parameters.{min_confidence,
  max_faces, return_embeddings}}` (other fields of the design are accepted and ignored).

Answers person and face boxes (pixels and normalized), scores, face landmarks and the
person each face belongs to. Embeddings only with `return_embeddings` and the
privacy_officer scope (asking without it is a 403); the frame is never stored. Needs
operator or privacy_officer, and a token granting the gateway's store. Bodies over the
upload limit are refused with 413 by gateway/limits.py before they are read.
"""

from __future__ import annotations

import base64
import binascii
import time
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from gateway.auth import AuthError, Principal, Scope
from gateway.db import reads
from gateway.runtime import Gateway
from trinetra.inference import (
    InferenceTimeoutError,
    InferenceUnavailableError,
    InvalidInputError,
)
from trinetra.inference.detections import FrameAnalysis

router = APIRouter()

ModelType = Literal["person-detection", "face-detection", "face-recognition"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Parameters(_Lenient):
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    max_faces: int | None = Field(None, ge=0, le=1000)
    return_embeddings: bool = False


class DetectionOptions(_Lenient):
    model_type: ModelType = "face-recognition"
    parameters: Parameters = Field(default_factory=Parameters)


class FrameRequest(_Lenient):
    camera_id: str = Field(min_length=1, max_length=128)
    frame_id: str | None = Field(None, max_length=128)
    timestamp: datetime | None = None
    frame_data: str | None = None
    detection_options: DetectionOptions = Field(default_factory=DetectionOptions)


class ProcessFrameError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(
        {"status": "error", "error": {"code": code, "message": message}},
        status_code=status,
        headers=headers,
    )


def _authorize(gateway: Gateway, request: Request) -> Principal:
    try:
        principal = gateway.verifier.from_header(request.headers.get("authorization"))
        principal.require(Scope.OPERATOR, Scope.PRIVACY_OFFICER)
        # The frame is of a camera of the gateway's store (its name is read from there).
        principal.require_store(gateway.settings.store_id)
    except AuthError as exc:
        gateway.metrics.auth_failures.labels(exc.reason).inc()
        code = "FORBIDDEN" if exc.status == 403 else "UNAUTHENTICATED"
        raise ProcessFrameError(exc.status, code, exc.message) from None
    return principal


async def _parse(request: Request, max_bytes: int) -> tuple[FrameRequest, bytes]:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=20)
            upload = form.get("frame")
            if not isinstance(upload, UploadFile):
                raise ProcessFrameError(
                    400, "BAD_REQUEST", "multipart field 'frame' (a file) is missing"
                )
            frame = await upload.read(max_bytes + 1)
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            parameters = {
                k: fields[k]
                for k in ("min_confidence", "max_faces", "return_embeddings")
                if k in fields
            }
            options: dict[str, Any] = {"parameters": parameters}
            if "model_type" in fields:
                options["model_type"] = fields["model_type"]
            parsed = FrameRequest.model_validate(
                {
                    "camera_id": fields.get("camera_id"),
                    "frame_id": fields.get("frame_id"),
                    "timestamp": fields.get("timestamp"),
                    "detection_options": options,
                }
            )
        elif content_type.startswith("application/json"):
            parsed = FrameRequest.model_validate_json(await request.body())
            if not parsed.frame_data:
                raise ProcessFrameError(
                    400, "BAD_REQUEST", "frame_data (base64 JPEG/PNG) is missing"
                )
            try:
                frame = base64.b64decode(parsed.frame_data, validate=True)
            except binascii.Error:
                raise ProcessFrameError(
                    400, "BAD_REQUEST", "frame_data is not valid base64"
                ) from None
        else:
            raise ProcessFrameError(
                415, "UNSUPPORTED_MEDIA_TYPE", "send multipart/form-data or application/json"
            )
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ProcessFrameError(400, "BAD_REQUEST", f"invalid request: {details}") from None
    if len(frame) > max_bytes:
        raise ProcessFrameError(413, "PAYLOAD_TOO_LARGE", f"frame larger than {max_bytes} bytes")
    if not frame:
        raise ProcessFrameError(400, "BAD_REQUEST", "the frame is empty")
    return parsed, frame


def _box(xyxy: list[float], width: int, height: int) -> dict[str, Any]:
    x1, y1, x2, y2 = xyxy
    return {
        "x": round(x1, 1),
        "y": round(y1, 1),
        "width": round(x2 - x1, 1),
        "height": round(y2 - y1, 1),
        "normalized": {
            "x": round(x1 / width, 5),
            "y": round(y1 / height, 5),
            "width": round((x2 - x1) / width, 5),
            "height": round((y2 - y1) / height, 5),
        },
    }


def detections_of(
    analysis: FrameAnalysis, options: DetectionOptions, *, embeddings: bool
) -> list[dict[str, Any]]:
    """The response's detections: persons, then faces, filtered by the options."""
    w, h = analysis.width, analysis.height
    minimum = options.parameters.min_confidence
    out: list[dict[str, Any]] = []
    if options.model_type != "face-detection":
        persons = analysis.persons
        for i, (xyxy, score) in enumerate(
            zip(persons.xyxy.tolist(), persons.confidence.tolist(), strict=True)
        ):
            if score >= minimum:
                out.append(
                    {
                        "detection_id": f"person-{i}",
                        "detection_type": "person",
                        "bounding_box": _box(xyxy, w, h),
                        "confidence": round(float(score), 4),
                    }
                )
    if options.model_type != "person-detection":
        faces = analysis.faces
        order = sorted(range(len(faces)), key=lambda i: -float(faces.confidence[i]))
        kept = [i for i in order if float(faces.confidence[i]) >= minimum]
        if options.parameters.max_faces is not None:
            kept = kept[: options.parameters.max_faces]
        for i in sorted(kept):
            person = int(faces.person_index[i])
            face: dict[str, Any] = {
                "detection_id": f"face-{i}",
                "detection_type": "face",
                "bounding_box": _box(faces.xyxy[i].tolist(), w, h),
                "confidence": round(float(faces.confidence[i]), 4),
                "person_detection_id": f"person-{person}" if person >= 0 else None,
                "landmarks": [[round(x, 1), round(y, 1)] for x, y in faces.landmarks[i].tolist()],
                "embedding": faces.embeddings[i].tolist() if embeddings else None,
            }
            out.append(face)
    return out


@router.post("/api/v1/detections/process-frame")
async def process_frame(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    started = datetime.now(UTC)
    clock = time.perf_counter()
    try:
        principal = _authorize(gateway, request)
        parsed, frame = await _parse(request, gateway.settings.limits.max_upload_bytes)
        options = parsed.detection_options
        want_embeddings = options.parameters.return_embeddings
        if want_embeddings and not principal.has(Scope.PRIVACY_OFFICER):
            raise ProcessFrameError(
                403, "FORBIDDEN", "return_embeddings requires scope privacy_officer"
            )
        if gateway.vision is None:
            raise ProcessFrameError(503, "MODEL_UNAVAILABLE", "inference client not started")
        inferred = time.perf_counter()
        try:
            analysis = await gateway.vision.analyze(frame)
        except InvalidInputError as exc:
            raise ProcessFrameError(422, "INVALID_FRAME", f"the frame was refused: {exc}") from None
        except InferenceTimeoutError as exc:
            raise ProcessFrameError(504, "MODEL_TIMEOUT", str(exc)) from None
        except InferenceUnavailableError as exc:
            raise ProcessFrameError(503, "MODEL_UNAVAILABLE", str(exc)) from None
        detection_ms = (time.perf_counter() - inferred) * 1000
    except ProcessFrameError as exc:
        gateway.metrics.frames_processed.labels(exc.code.lower()).inc()
        return _error(exc.status, exc.code, exc.message)
    detections = detections_of(analysis, options, embeddings=want_embeddings)
    camera_name = await _camera_name(gateway, parsed.camera_id)
    scores = [d["confidence"] for d in detections]
    persons = sum(1 for d in detections if d["detection_type"] == "person")
    gateway.metrics.frames_processed.labels("success").inc()
    return JSONResponse(
        {
            "status": "success",
            "message": "Frame processed successfully" if detections else "No detections in frame",
            "processing_info": {
                "frame_id": parsed.frame_id,
                "camera_id": parsed.camera_id,
                "camera_name": camera_name,
                "timestamp": parsed.timestamp.isoformat() if parsed.timestamp else None,
                "processing_started_at": started.isoformat(),
                "processing_completed_at": datetime.now(UTC).isoformat(),
                "processing_time_ms": round((time.perf_counter() - clock) * 1000, 1),
                "detection_time_ms": round(detection_ms, 1),
            },
            "frame": {"width": analysis.width, "height": analysis.height},
            "detections": detections,
            "summary": {
                "total_detections": len(detections),
                "persons": persons,
                "faces": len(detections) - persons,
                "avg_confidence": round(sum(scores) / len(scores), 4) if scores else None,
            },
            "model_info": {
                "pipeline": gateway.settings.triton.pipeline_model,
                "model_versions": analysis.model_versions,
                "embedding_size": int(analysis.faces.embeddings.shape[1]),
            },
        }
    )


async def _camera_name(gateway: Gateway, camera_id: str) -> str | None:
    """The registered camera's name, if the database can say (best effort)."""
    if not gateway.schema_ready.is_set():
        return None
    try:
        async with gateway.db.connection() as conn:
            row = await reads.camera(conn, gateway.settings.store_id, camera_id)
    except Exception:
        return None
    if row is None or row["config"] is None:
        return None
    name = row["config"].get("name")
    return name if isinstance(name, str) else None
