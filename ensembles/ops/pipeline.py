"""The vision pipeline's steps around the three models, shared by the `vision_pipeline`
python-backend model (which calls the models through Triton) and the in-process baseline
(which calls onnxruntime directly). The caller runs the models between the steps:

    batch = prepare(frames, settings)
    head = person_detector(batch.person_input); faces = face_detector(batch.face_input)
    found = decode(batch, head, faces, settings)
    embeddings = face_embedder(found.crops)        # in chunks of the embedder's max batch
    results = found.results(embeddings)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ensembles.ops.align import align_faces, l2_normalize
from ensembles.ops.boxes import link_faces_to_persons
from ensembles.ops.image import DEFAULT_MAX_PIXELS, Image, Letterbox, letterbox, to_chw_float
from ensembles.ops.scrfd import decode_faces
from ensembles.ops.yolo import decode_persons

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class PipelineSettings:
    """Thresholds and sizes; the Triton model reads them from its config parameters."""

    input_size: int = 640
    # Low on purpose: ByteTrack's second association stage needs low-score boxes.
    person_min_score: float = 0.1
    person_iou: float = 0.7
    face_min_score: float = 0.5
    face_iou: float = 0.4
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class FrameOutputs:
    """One frame's results, named after `vision_pipeline`'s output tensors."""

    person_boxes: F32
    person_scores: F32
    face_boxes: F32
    face_scores: F32
    face_landmarks: F32
    face_person_index: NDArray[np.int32]
    face_embeddings: F32

    def as_tensors(self) -> dict[str, NDArray[np.generic]]:
        """Output tensors with the leading batch dimension of 1 Triton expects."""
        return {name.upper(): value[None] for name, value in vars(self).items()}


@dataclass(frozen=True)
class PreparedBatch:
    frames: list[Image]
    boxes: list[Letterbox]
    person_input: F32
    face_input: F32


def prepare(frames: list[Image], settings: PipelineSettings) -> PreparedBatch:
    fitted = [letterbox(frame, settings.input_size) for frame in frames]
    stacked = np.stack([image for image, _ in fitted])
    return PreparedBatch(
        frames=frames,
        boxes=[box for _, box in fitted],
        person_input=to_chw_float(stacked, 0.0, 255.0),
        face_input=to_chw_float(stacked, 127.5, 128.0),
    )


@dataclass(frozen=True)
class _Found:
    person_boxes: F32
    person_scores: F32
    face_boxes: F32
    face_scores: F32
    face_landmarks: F32


@dataclass(frozen=True)
class DecodedBatch:
    """Detections of every frame in a batch, with the aligned crops of all their faces."""

    found: list[_Found]
    crops: F32

    def results(self, embeddings: F32) -> list[FrameOutputs]:
        if len(embeddings) != len(self.crops):
            raise ValueError(f"{len(embeddings)} embeddings for {len(self.crops)} face crops")
        if len(embeddings):
            embeddings = l2_normalize(embeddings.reshape(len(self.crops), -1))
        results, start = [], 0
        for frame in self.found:
            count = len(frame.face_boxes)
            link = link_faces_to_persons(frame.face_boxes, frame.person_boxes, frame.person_scores)
            results.append(
                FrameOutputs(
                    person_boxes=frame.person_boxes,
                    person_scores=frame.person_scores,
                    face_boxes=frame.face_boxes,
                    face_scores=frame.face_scores,
                    face_landmarks=frame.face_landmarks,
                    face_person_index=link.astype(np.int32),
                    face_embeddings=embeddings[start : start + count],
                )
            )
            start += count
        return results


def decode(
    batch: PreparedBatch,
    person_head: F32,
    face_outputs: dict[str, F32],
    settings: PipelineSettings,
) -> DecodedBatch:
    found, crops = [], []
    for i, (frame, box) in enumerate(zip(batch.frames, batch.boxes, strict=True)):
        person_boxes, person_scores = decode_persons(
            person_head[i], box, settings.person_min_score, settings.person_iou
        )
        face_boxes, face_scores, landmarks = decode_faces(
            face_outputs, i, settings.input_size, box, settings.face_min_score, settings.face_iou
        )
        found.append(_Found(person_boxes, person_scores, face_boxes, face_scores, landmarks))
        crops.append(align_faces(frame, landmarks))
    size = 112
    all_crops = np.concatenate(crops) if crops else np.zeros((0, 3, size, size), np.float32)
    return DecodedBatch(found, all_crops)
