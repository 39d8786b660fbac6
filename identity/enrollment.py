"""Enrolment from photos: each must show exactly one usable face, embedded by
`vision_pipeline`.

A photo is decoded and analysed in memory (inside Triton) and only its embedding is
stored: no image, crop or thumbnail is ever written anywhere. "Usable" is the quality
function's verdict (`ensembles.ops.face_quality` through `identity.quality`) with the
enrolment gates of `EnrollmentConfig`: size, detector score and a frontal pose. One
enrolment takes up to `max_photos` photos of the same person (`assess_photos`): the good
ones are stored, each refused one is reported with its reason.

Huge photos are downscaled first (`fit_photo`): a phone's 50-200 MP JPEG holds nothing
more for the models (the face detector runs at 640 px, the embedder at 112 px a face)
than the same photo at 4096 px, and the pipeline refuses frames beyond 8K outright.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from ensembles.ops.image import DEFAULT_MAX_PIXELS, encoded_image_size
from identity.audit import AuditContext
from identity.config import EnrollmentConfig
from identity.gallery import EnrolledEmbedding, FaceGallery
from identity.quality import FaceMeasures, QualityGate
from identity.vectors import Vector, unit_vector
from trinetra.identity.errors import (
    BadRequestError,
    EnrollmentError,
    InvalidPhotoError,
    LowQualityFaceError,
    MultipleFacesError,
    NoFaceError,
    check_customer_id,
)
from trinetra.inference.detections import FrameAnalysis
from trinetra.inference.errors import InvalidInputError

Photo = bytes | NDArray[np.uint8]

# Longest side a photo is analysed at; larger ones are downscaled to it (module docs).
MAX_PHOTO_SIDE: Final = 4096
# Largest photo decoded for downscaling: JPEGs decode at 1/2 to 1/8 scale directly
# (libjpeg), so 200 MP costs a few; PNGs decode whole, so they keep the pipeline's bound.
MAX_JPEG_PIXELS: Final = 200_000_000
_JPEG_QUALITY: Final = 95


def fit_photo(photo: Photo, max_side: int = MAX_PHOTO_SIDE) -> Photo:
    """`photo` itself, or downscaled to `max_side` (re-encoded as JPEG) when it is larger;
    raises InvalidPhotoError for one too large to decode. CPU-bound: run off the loop."""
    if not isinstance(photo, bytes | bytearray):
        return photo
    size = encoded_image_size(bytes(photo))
    if size is None or max(size) <= max_side:
        return photo  # small, or unreadable: the pipeline says why
    width, height = size
    is_jpeg = bytes(photo[:2]) == b"\xff\xd8"
    limit = MAX_JPEG_PIXELS if is_jpeg else DEFAULT_MAX_PIXELS
    if width * height > limit:
        raise InvalidPhotoError(
            f"the photo is {width}x{height} pixels, more than the {limit} pixels accepted"
        )
    reduce = 1
    while is_jpeg and reduce < 8 and max(size) // (reduce * 2) >= max_side:
        reduce *= 2
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
    image = cv2.imdecode(
        np.frombuffer(photo, np.uint8), flags.get(reduce, cv2.IMREAD_REDUCED_COLOR_8)
    )
    if image is None:
        raise InvalidPhotoError("the photo could not be read: corrupt JPEG/PNG data")
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise InvalidPhotoError("the photo could not be downscaled")
    return encoded.tobytes()


class FaceAnalyzer(Protocol):
    """`VisionClient` (or anything with its `analyze`)."""

    async def analyze(self, frame: bytes | NDArray[np.uint8]) -> FrameAnalysis: ...


@dataclass(frozen=True, slots=True)
class FaceSample:
    """The single face of a photo: its embedding plus what the checks looked at."""

    embedding: Vector
    score: float
    size_px: float
    quality: float = 1.0  # face_quality's score, 0-1


async def single_face(
    analyzer: FaceAnalyzer, photo: Photo, config: EnrollmentConfig | None = None
) -> FaceSample:
    """Embed the one face in `photo`; raises a typed `EnrollmentError` otherwise."""
    cfg = config or EnrollmentConfig()
    if isinstance(photo, bytes | bytearray) and not photo:
        raise InvalidPhotoError("the photo is empty")
    photo = await asyncio.to_thread(fit_photo, photo)
    try:
        analysis = await analyzer.analyze(photo)
    except InvalidInputError as exc:
        raise InvalidPhotoError(f"the photo could not be read: {exc}") from None
    faces = analysis.faces
    if len(faces) == 0:
        raise NoFaceError("no face found in the photo: use a clear, frontal photo of one person")
    if len(faces) > 1:
        raise MultipleFacesError(
            f"{len(faces)} faces found in the photo: an enrolment photo must show exactly "
            "one person",
            faces=len(faces),
        )
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[0])
    size = min(x2 - x1, y2 - y1)
    score = float(faces.confidence[0])
    if size < cfg.min_face_size_px:
        raise LowQualityFaceError(
            f"the face is {size:.0f} px, smaller than the {cfg.min_face_size_px} px required"
        )
    if score < cfg.min_face_score:
        raise LowQualityFaceError(
            f"face detector confidence {score:.2f} is below {cfg.min_face_score:.2f}"
        )
    measures = FaceMeasures.of(faces.xyxy[0], score, faces.landmarks[0])
    verdict = QualityGate(cfg.thresholds()).check(measures)
    if not verdict.ok:
        raise LowQualityFaceError(
            f"the face is not usable as a reference ({verdict.reason.replace('_', ' ')}): "
            "use a sharp photo of the face looking at the camera"
        )
    return FaceSample(
        embedding=unit_vector(faces.embeddings[0]),
        score=score,
        size_px=size,
        quality=verdict.score,
    )


@dataclass(frozen=True, slots=True)
class Assessment:
    """The photos of one enrolment: the usable ones and why the others are not."""

    samples: tuple[tuple[int, FaceSample], ...]
    refused: tuple[tuple[int, EnrollmentError], ...]


async def assess_photos(
    analyzer: FaceAnalyzer, photos: Sequence[Photo], config: EnrollmentConfig | None = None
) -> Assessment:
    """Check every photo (`single_face`); raises `BadRequestError` for more than
    `max_photos`, and the first refusal when no photo is usable."""
    cfg = config or EnrollmentConfig()
    if not photos:
        raise BadRequestError("an enrolment needs a photo")
    if len(photos) > cfg.max_photos:
        raise BadRequestError(
            f"{len(photos)} photos in one enrolment, at most {cfg.max_photos} are accepted"
        )
    samples: list[tuple[int, FaceSample]] = []
    refused: list[tuple[int, EnrollmentError]] = []
    for index, photo in enumerate(photos):
        try:
            samples.append((index, await single_face(analyzer, photo, cfg)))
        except EnrollmentError as error:
            refused.append((index, error))
    if not samples:
        raise refused[0][1]
    return Assessment(tuple(samples), tuple(refused))


class Enroller:
    """Photo -> one gallery embedding for a customer."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        gallery: FaceGallery,
        config: EnrollmentConfig | None = None,
    ) -> None:
        self._analyzer = analyzer
        self._gallery = gallery
        self.config = config or EnrollmentConfig()

    async def enroll(
        self,
        customer_id: str,
        photo: Photo,
        *,
        ctx: AuditContext,
        vip: bool = False,
        camera_id: str | None = None,
    ) -> EnrolledEmbedding:
        check_customer_id(customer_id)
        sample = await single_face(self._analyzer, photo, self.config)
        return self._gallery.add(
            customer_id,
            sample.embedding,
            ctx=ctx,
            camera_id=camera_id or self.config.source_camera,
            vip=vip,
        )
