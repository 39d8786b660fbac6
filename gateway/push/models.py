"""Push mode's request and answers (detection-provider design 4.1.1, 5.1, 5.3).

A request comes as JSON (the design's shape: `detection_options.parameters`,
`detection_options.processing`, `client_context`) or as multipart/form-data with the
frame as the `frame` file and every option as a flat field of the same name
(`min_confidence`, `priority`, `async`, `callback_url`, ...). `MULTIPART_FIELDS` says
where each flat field goes. Unknown JSON fields are ignored (the design has more than
the gateway uses); a known field with a wrong value is refused naming its path.

Priority (`detection_options.processing.priority`) is one of `urgent`, `high`, `normal`
(default) and `low`: the order in which waiting frames get a slot in Triton (FIFO within
one priority), so a billing counter's `urgent` frame never waits behind `low` bulk
uploads. Integers are not accepted: names cannot be misread as "1 is highest".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

ModelType = Literal["person-detection", "face-detection", "face-recognition"]


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the first served."""
        return _RANKS[self]


_RANKS: Final = {p: i for i, p in enumerate(Priority)}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Parameters(_Lenient):
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    min_face_size: int | None = Field(
        None, ge=1, le=10_000, description="Faces whose box's shorter side is smaller (px) go."
    )
    max_faces: int | None = Field(None, ge=0, le=1000)
    return_embeddings: bool = False
    return_snapshots: bool = Field(
        False, description="Each face's crop as base64 JPEG, in the response only."
    )
    match_faces: bool = Field(
        False, description="Not supported yet: refused rather than silently ignored."
    )


class Processing(_Lenient):
    priority: Priority = Priority.NORMAL
    timeout_ms: int | None = Field(
        None, ge=100, le=600_000, description="Queue wait plus inference, sync requests."
    )
    run_async: bool = Field(
        False, validation_alias=AliasChoices("async", "run_async"), serialization_alias="async"
    )


class DetectionOptions(_Lenient):
    model_type: ModelType = "face-recognition"
    parameters: Parameters = Field(default_factory=Parameters)
    processing: Processing = Field(default_factory=Processing)


class ClientContext(_Lenient):
    client_id: str | None = Field(None, max_length=128)
    request_id: str | None = Field(None, max_length=128)
    callback_url: str | None = Field(None, min_length=1, max_length=2048)


class FrameRequest(_Lenient):
    camera_id: str = Field(min_length=1, max_length=128)
    frame_id: str | None = Field(
        None, min_length=1, max_length=128, description="Deduplicated per camera when given."
    )
    timestamp: datetime | None = Field(None, description="When the frame was captured.")
    frame_data: str | None = None
    detection_options: DetectionOptions = Field(default_factory=DetectionOptions)
    client_context: ClientContext = Field(default_factory=ClientContext)

    @property
    def parameters(self) -> Parameters:
        return self.detection_options.parameters

    @property
    def processing(self) -> Processing:
        return self.detection_options.processing


# Multipart field -> its path in FrameRequest (module docs).
MULTIPART_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "camera_id": ("camera_id",),
    "frame_id": ("frame_id",),
    "timestamp": ("timestamp",),
    "model_type": ("detection_options", "model_type"),
    **{
        name: ("detection_options", "parameters", name)
        for name in (
            "min_confidence",
            "min_face_size",
            "max_faces",
            "return_embeddings",
            "return_snapshots",
            "match_faces",
        )
    },
    "priority": ("detection_options", "processing", "priority"),
    "timeout_ms": ("detection_options", "processing", "timeout_ms"),
    "async": ("detection_options", "processing", "async"),
    **{name: ("client_context", name) for name in ("client_id", "request_id", "callback_url")},
}


def from_fields(fields: dict[str, str]) -> dict[str, Any]:
    """The nested request of multipart's flat fields (unknown ones left out)."""
    out: dict[str, Any] = {}
    for name, path in MULTIPART_FIELDS.items():
        if name not in fields:
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = fields[name]
    return out


# --- answers -------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class NormalizedBox(_Answer):
    x: float
    y: float
    width: float
    height: float


class Box(_Answer):
    x: float
    y: float
    width: float
    height: float
    normalized: NormalizedBox


class Snapshot(_Answer):
    format: Literal["jpeg"] = "jpeg"
    resolution: str
    size_bytes: int
    data: str = Field(description="base64 JPEG of the face's box.")


class Detection(_Answer):
    detection_id: str
    detection_type: Literal["person", "face"]
    bounding_box: Box
    confidence: float
    person_detection_id: str | None = None
    landmarks: list[list[float]] | None = None
    embedding: list[float] | None = None
    snapshot: Snapshot | None = None


class ProcessingInfo(_Answer):
    frame_id: str | None
    camera_id: str
    camera_name: str | None
    timestamp: datetime | None
    priority: Priority
    processing_started_at: datetime
    processing_completed_at: datetime
    processing_time_ms: float
    queue_time_ms: float
    detection_time_ms: float


class FrameSize(_Answer):
    width: int
    height: int


class Summary(_Answer):
    total_detections: int
    persons: int
    faces: int
    avg_confidence: float | None


class ModelInfo(_Answer):
    pipeline: str
    model_versions: dict[str, str]
    # The Triton endpoint (host:port) that produced the result (trinetra.inference).
    endpoint: str | None
    embedding_size: int


class FrameResult(_Answer):
    status: Literal["success"] = "success"
    message: str
    result_id: str
    processing_info: ProcessingInfo
    frame: FrameSize
    detections: list[Detection]
    summary: Summary
    model_info: ModelInfo


class Duplicate(_Answer):
    status: Literal["duplicate"] = "duplicate"
    message: str = "Frame already received for this camera within the deduplication window"
    result_id: str = Field(description="The id of the first request's result (or job).")
    frame_id: str
    camera_id: str


class Accepted(_Answer):
    status: Literal["accepted"] = "accepted"
    message: str = "Frame queued for processing"
    job_id: str
    result_id: str = Field(description="Equal to job_id: what a duplicate names.")
    frame_id: str | None
    queue_position: int = Field(description="Jobs of this store queued ahead of this one.")
    callback_url: str | None
    status_url: str
